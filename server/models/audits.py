"""The server audit log, as Central's `audits`: who did what to which object, and when.

Every entry is written by `record` (or `record_throttled`), on the session of the action it records,
so it commits or rolls back with that action. The application only ever inserts into this table:
no function here or anywhere else updates or deletes an entry (tests/test_audits.py checks the
source), and no route offers to. Action names are Central's where Central has the action
(docs/security.md#audit-log lists them, with Hamlet's own: area_assignment.update and
user.session.throttled)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow


class Audit(Base):
    __tablename__ = "audits"
    __table_args__ = (Index("ix_audits_logged_at", "logged_at", "id"),
                      Index("ix_audits_action_logged_at", "action", "logged_at"),
                      Index("ix_audits_actor_logged_at", "actor_id", "logged_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys: an entry outlives whatever it names (actors and projects are only ever
    # soft-deleted today, but a log must not depend on that).
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    actee_type: Mapped[str | None] = mapped_column(String(16))   # actor, project, form, dataset
    actee_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)              # Central's X-Action-Notes
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# What each table's rows are called as an actee (Central's actee may be an Actor, a Project, a Form…).
_ACTEE_TYPES = {"actors": "actor", "projects": "project", "forms": "form", "datasets": "dataset"}

# Central's groupings for `?action=` (lib/model/query/audits.js), with Hamlet's own names added to
# the group they belong to. Any other value is an exact action name.
GROUPS: dict[str, tuple[str, ...]] = {
    "user": ("user.create", "user.update", "user.delete", "user.assignment.create", "user.assignment.delete",
             "user.session.create", "user.session.throttled", "area_assignment.update"),
    "field_key": ("field_key.create", "field_key.assignment.create", "field_key.assignment.delete",
                  "field_key.session.end", "field_key.delete"),
    "public_link": ("public_link.create", "public_link.assignment.create", "public_link.assignment.delete",
                    "public_link.session.end", "public_link.delete"),
    "project": ("project.create", "project.update", "project.delete"),
    "form": ("form.create", "form.update", "form.delete", "form.restore", "form.purge", "form.attachment.update",
             "form.submission.export", "form.update.draft.set", "form.update.draft.delete",
             "form.update.draft.replace", "form.update.publish", "webhook.create", "webhook.update", "webhook.delete"),
    "submission": ("submission.create", "submission.update", "submission.update.version",
                   "submission.attachment.update", "submission.delete", "submission.restore", "submission.purge"),
    "dataset": ("dataset.create", "dataset.update", "dataset.delete", "dataset.update.property.delete",
                "entity.bulk.delete", "entity.bulk.restore"),
}
# Central's `nonverbose` leaves out the per-record events; Hamlet records none of the entity ones.
VERBOSE = ("submission.create", "submission.update", "submission.update.version", "submission.attachment.update",
           "submission.delete", "submission.restore", "entity.create", "entity.update.version", "entity.delete",
           "entity.restore")

def actee_ref(actee: Any) -> tuple[str | None, int | None]:
    """(type, id) of a model object as an actee; (None, None) for none."""
    if actee is None:
        return None, None
    table = getattr(actee, "__tablename__", None)
    kind = _ACTEE_TYPES.get(table or "") or ("actor" if hasattr(actee, "display_name") else None)
    if kind is None:
        raise TypeError(f"{type(actee).__name__} is not something an audit entry names")
    return kind, actee.id


def record(db: Session | Connection, actor: Any, action: str, actee: Any = None, details: dict | None = None,
           notes: str | None = None) -> None:
    """Log `action` by `actor` (anything with an `id`, or None for the server itself) on `actee`
    (an Actor, Project, Form or Dataset, or None) in `db`'s transaction: it commits with the action."""
    kind, actee_id = actee_ref(actee)
    conn = db.connection() if isinstance(db, Session) else db
    conn.execute(_insert(), {"actor_id": actor.id if actor is not None else None, "action": action,
                             "actee_type": kind, "actee_id": actee_id, "details": details, "notes": notes,
                             "logged_at": utcnow()})


@cache
def _insert():
    """Built once, a plain Core insert: an ORM insert built per call cost ~1 ms of CPU on every export."""
    return insert(Audit.__table__)


def public_link_created(db: Session, actor: Any, link: Any, data: dict | None = None) -> None:
    """For the public links' routes, when they land: `link` is the link's actor (Central's public
    links are actors); call it in the transaction that creates the link."""
    record(db, actor, "public_link.create", link, {"data": data or {"displayName": link.display_name}})


def public_link_revoked(db: Session, actor: Any, link: Any, deleted: bool = True) -> None:
    """`public_link.delete` when the link is deleted, `public_link.session.end` when only its token
    is revoked (Central's two names), in the revoking transaction."""
    record(db, actor, "public_link.delete" if deleted else "public_link.session.end", link)


def record_throttled(conn: Connection, email: str, address: str, retry_after: int, window: timedelta) -> None:
    """`user.session.throttled`: a password check refused by the throttle. The actee is the account
    the typed email belongs to (none for an unknown email, which is never stored). One entry per
    account and address per window, however many refused requests come, so a flood of guesses cannot
    grow the log."""
    from server.models.accounts import USER, Actor

    user_id = conn.execute(select(Actor.id).where(Actor.email == (email or "").strip().lower(), Actor.type == USER,
                                                  Actor.deleted_at.is_(None))).scalar()
    since = utcnow() - window
    recent = conn.execute(select(Audit.details).where(
        Audit.action == "user.session.throttled", Audit.logged_at >= since,
        Audit.actee_id == user_id if user_id is not None else Audit.actee_id.is_(None)).limit(200)).scalars()
    if any((d or {}).get("address") == address for d in recent):
        return
    conn.execute(_insert(), {"actor_id": None, "action": "user.session.throttled",
                             "actee_type": "actor" if user_id is not None else None, "actee_id": user_id,
                             "details": {"address": address, "retryAfter": retry_after}, "notes": None,
                             "logged_at": utcnow()})


@dataclass(frozen=True)
class Filter:
    action: str | None = None       # an exact name or a group of GROUPS, or "nonverbose"
    start: datetime | None = None   # inclusive
    end: datetime | None = None     # exclusive
    actor_id: int | None = None


def _where(stmt, f: Filter):
    if f.action == "nonverbose":
        stmt = stmt.where(Audit.action.not_in(VERBOSE))
    elif f.action in GROUPS:
        stmt = stmt.where(Audit.action.in_(GROUPS[f.action]))
    elif f.action:
        stmt = stmt.where(Audit.action == f.action)
    if f.start is not None:
        stmt = stmt.where(Audit.logged_at >= f.start)
    if f.end is not None:
        stmt = stmt.where(Audit.logged_at < f.end)
    if f.actor_id is not None:
        stmt = stmt.where(Audit.actor_id == f.actor_id)
    return stmt


def entries(db: Session, f: Filter, limit: int | None = None, offset: int = 0) -> list[Audit]:
    """The entries `f` selects, newest first (Central's order: loggedAt, then id, descending)."""
    stmt = _where(select(Audit), f).order_by(Audit.logged_at.desc(), Audit.id.desc()).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.scalars(stmt))


def count(db: Session, f: Filter) -> int:
    return db.scalar(_where(select(func.count()).select_from(Audit), f)) or 0


def actors_named(db: Session, entries_: list[Audit]) -> dict[int, Any]:
    """The actors the entries name (as actor or actee), by id, deleted ones too: one query."""
    from server.models.accounts import Actor

    ids = {e.actor_id for e in entries_ if e.actor_id is not None}
    ids |= {e.actee_id for e in entries_ if e.actee_type == "actor" and e.actee_id is not None}
    if not ids:
        return {}
    return {a.id: a for a in db.scalars(select(Actor).where(Actor.id.in_(ids)))}


def actees_named(db: Session, entries_: list[Audit]) -> dict[tuple[str, int], Any]:
    """The projects, forms and datasets the entries name, by (type, id): one query per type."""
    from server.models.datasets import Dataset
    from server.models.forms import Form
    from server.models.projects import Project

    found: dict[tuple[str, int], Any] = {}
    models: tuple[tuple[str, Any], ...] = (("project", Project), ("form", Form), ("dataset", Dataset))
    for kind, model in models:
        ids = {e.actee_id for e in entries_ if e.actee_type == kind and e.actee_id is not None}
        if ids:
            for obj in db.scalars(select(model).where(model.id.in_(ids))):
                found[(kind, obj.id)] = obj
    return found

