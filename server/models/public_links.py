"""Public links (Central's public-links): an actor of type `public_link` for one form, whose
session token is the link. Whoever opens the link fills the form in the browser and submits as that
actor, so the link's display name becomes the submitter. A `once` link takes one submission."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.models.accounts import Actor, AuthSession, FormAssignment, create_session, end_sessions
from server.models.forms import Form
from server.models.submissions import Submission

PUBLIC_LINK = "public_link"
ROLE = "pub-link"


class PublicLink(Base):
    """What a public link adds to its actor: the form it opens and whether it takes one submission."""

    __tablename__ = "public_links"
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    once: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def create_link(db: Session, form: Form, display_name: str, once: bool, created_by_id: int | None) -> tuple[Actor, PublicLink, str]:
    actor = Actor(type=PUBLIC_LINK, display_name=display_name, project_id=form.project_id,
                  created_by_id=created_by_id, created_at=utcnow())
    db.add(actor)
    db.flush()
    link = PublicLink(actor_id=actor.id, form_id=form.id, once=once, created_at=actor.created_at)
    db.add(link)
    db.add(FormAssignment(actor_id=actor.id, form_id=form.id, role=ROLE))
    token = create_session(db, actor, hours=None).token
    return actor, link, token


def links_of(db: Session, form_id: int) -> list[tuple[Actor, PublicLink, str | None]]:
    """The form's links, newest first, each with its token (None once revoked)."""
    rows = db.execute(select(Actor, PublicLink, AuthSession.token)
                      .join(PublicLink, PublicLink.actor_id == Actor.id)
                      .outerjoin(AuthSession, AuthSession.actor_id == Actor.id)
                      .where(PublicLink.form_id == form_id, Actor.deleted_at.is_(None))
                      .order_by(Actor.created_at.desc(), Actor.id.desc()))
    return [(a, link, token) for a, link, token in rows]


def link_of(db: Session, form_id: int, actor_id: int) -> tuple[Actor, PublicLink] | None:
    row = db.execute(select(Actor, PublicLink).join(PublicLink, PublicLink.actor_id == Actor.id)
                     .where(PublicLink.form_id == form_id, Actor.id == actor_id, Actor.deleted_at.is_(None))).first()
    return (row[0], row[1]) if row else None


def link_for_actor(db: Session, actor_id: int, lock: bool = False) -> PublicLink | None:
    """The link an actor is; `lock` holds its row until the transaction ends, so two submissions sent
    through a `once` link at the same moment are checked one after the other (PostgreSQL's row lock;
    SQLite has one writer at a time anyway)."""
    if lock:
        return db.scalars(select(PublicLink).where(PublicLink.actor_id == actor_id).with_for_update()).first()
    return db.get(PublicLink, actor_id)


def revoke(db: Session, actor: Actor) -> None:
    """The token stops working at once; the link stays listed with a null token, as in Central."""
    end_sessions(db, actor.id)
    actor.updated_at = utcnow()


def delete_link(db: Session, actor: Actor) -> None:
    end_sessions(db, actor.id)
    actor.deleted_at = utcnow()


def used(db: Session, actor_id: int) -> bool:
    """Whether the link has already brought a submission (what a `once` link allows)."""
    return bool(db.scalar(select(func.count()).select_from(Submission).where(Submission.submitter_id == actor_id)))
