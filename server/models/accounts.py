"""Actors (web users and app users), their session tokens and their role assignments."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache

from sqlalchemy import ForeignKey, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from server.db import Base, UTCDateTime, utcnow
from server.models.password_tokens import retire_all as retire_password_tokens
from server.models.recent import Recent

USER = "user"
APP_USER = "field_key"


class Actor(Base):
    """Anyone who can act: a web user (email + password) or an app user (a token for ODK Collect).

    One id space for both, as in Central, so submitterId and assignment paths use the same ids."""

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # HTTP Digest (ODK Collect with username and password) needs MD5(user:realm:password): no KDF can
    # answer a Digest challenge. Kept beside the scrypt hash, used only for Digest (§4.1).
    digest_ha1: Mapped[str | None] = mapped_column(String(32))
    site_role: Mapped[str | None] = mapped_column(String(32))  # "admin" for site administrators
    # The web pages' language ("vi" or "en"); None means the default, Vietnamese.
    language: Mapped[str | None] = mapped_column(String(8))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))  # app users belong to one project
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_site_admin(self) -> bool:
        return self.site_role == "admin"

    def set_password(self, password: str) -> None:
        # scrypt through werkzeug: a memory-hard KDF with a per-password salt.
        self.password_hash = generate_password_hash(password, method="scrypt")
        if self.email:
            self.digest_ha1 = digest_ha1(self.email, password)


@lru_cache(maxsize=1)
def _stand_in_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(24), method="scrypt")


def warm_password_checks() -> None:
    _stand_in_hash()


def password_matches(user: Actor | None, password: str) -> bool:
    """Whether `user` has this password. Without a user (an unknown email) or without a password
    hash, the same scrypt check runs on a stand-in hash: the time taken tells no one which emails
    have an account."""
    if user is None or not user.password_hash:
        check_password_hash(_stand_in_hash(), password)
        return False
    return check_password_hash(user.password_hash, password)


class AuthSession(Base):
    """A bearer token: a web login (expires) or an app user's long-lived key (revoked by deletion)."""

    __tablename__ = "sessions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProjectAssignment(Base):
    __tablename__ = "project_assignments"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class AreaAssignment(Base):
    """Limits an actor's project roles to some areas of the project's registry and everything below them.

    No rows for (actor, project): the whole project. Site administrators are never limited. See
    server/auth/scope.py for how a scope is read and applied."""

    __tablename__ = "area_assignments"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)
    area_code: Mapped[str] = mapped_column(String(64), primary_key=True)


class FormAssignment(Base):
    """App users reach a form through the app-user role on that form (Central's role id 2)."""

    __tablename__ = "form_assignments"

    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


DIGEST_REALM = "Hamlet"


def digest_ha1(username: str, password: str) -> str:
    return hashlib.md5(f"{username}:{DIGEST_REALM}:{password}".encode()).hexdigest()


def new_token() -> str:
    """64 characters from [A-Za-z0-9!$], like Central's tokens (48 random bytes in base64)."""
    raw = base64.b64encode(secrets.token_bytes(48)).decode()
    return raw.replace("/", "!").replace("+", "$")


_TOKEN = re.compile(r"[A-Za-z0-9!$]{64}")


def is_wellformed_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


def create_session(db: Session, actor: Actor, hours: int | None) -> AuthSession:
    now = utcnow()
    session = AuthSession(
        token=new_token(), actor_id=actor.id, csrf=secrets.token_urlsafe(32), created_at=now,
        expires_at=now + timedelta(hours=hours) if hours else None,
    )
    db.add(session)
    db.flush()
    return session


@dataclass(frozen=True)
class Caller:
    """Who is calling, read in one query per request: the actor's columns without an ORM object."""

    id: int
    type: str
    display_name: str
    email: str | None
    site_role: str | None
    project_id: int | None
    created_at: datetime
    updated_at: datetime | None
    deleted_at: datetime | None

    @property
    def is_site_admin(self) -> bool:
        return self.site_role == "admin"


@dataclass(frozen=True)
class TokenSession:
    token: str
    csrf: str
    created_at: datetime
    expires_at: datetime | None


_CALLER_COLUMNS = ("id", "type", "display_name", "email", "site_role", "project_id", "created_at", "updated_at",
                   "deleted_at")


@cache
def _by_token_statement():
    """Built once: the token lookup runs on every request, twice per Collect upload (HEAD, POST)."""
    a, t = Actor.__table__, AuthSession.__table__
    return (select(*[a.c[c] for c in _CALLER_COLUMNS], t.c.token, t.c.csrf,
                   t.c.created_at.label("session_created_at"), t.c.expires_at)
            .join(t, t.c.actor_id == a.c.id)
            .where(t.c.token == bindparam("token"), a.c.deleted_at.is_(None)))


# HEAD and POST of one upload share one lookup (server/models/recent.py says why and how it is kept fresh).
_recent_tokens = Recent("tokens", lambda: (Actor, AuthSession))


def actor_for_token(db: Session, token: str) -> tuple[Caller, TokenSession] | None:
    found = _recent_tokens.get(token)
    if found is None:
        row = db.connection().execute(_by_token_statement(), {"token": token}).first()
        if row is None:
            return None
        found = (Caller(*[row[i] for i in range(len(_CALLER_COLUMNS))]),
                 TokenSession(row.token, row.csrf, row.session_created_at, row.expires_at))
        _recent_tokens.put(token, found)
    if found[1].expires_at is not None and found[1].expires_at < utcnow():
        return None
    return found


def recent_token_is_valid(token: str) -> bool:
    """True when `actor_for_token` would find this token's caller without the database: looked up
    within the last second and not expired. False means "ask actor_for_token", not "invalid"."""
    found = _recent_tokens.get(token)
    return found is not None and (found[1].expires_at is None or found[1].expires_at >= utcnow())


def end_sessions(db: Session, actor_id: int) -> None:
    db.execute(delete(AuthSession).where(AuthSession.actor_id == actor_id))


def change_password(db: Session, user: Actor, password: str, keep_token: str | None = None) -> None:
    """Set a new password and end every session of the user but `keep_token` (the one that asked for
    the change, if any), so a session opened with the old password does not outlive it. The REST
    API, the account page and an administrator's reset all go through here."""
    user.set_password(password)
    user.updated_at = utcnow()
    others = delete(AuthSession).where(AuthSession.actor_id == user.id)
    if keep_token is not None:
        others = others.where(AuthSession.token != keep_token)
    db.execute(others)
    retire_password_tokens(db, user.id)   # a reset link sent before the change must not undo it


def invalidate_password(db: Session, user: Actor) -> None:
    """As Central's ?invalidate=true: the password stops working and every session ends, until the owner
    sets a new one with an emailed link."""
    user.password_hash = None
    user.digest_ha1 = None
    user.updated_at = utcnow()
    end_sessions(db, user.id)
    retire_password_tokens(db, user.id)


@cache
def _by_email_statement():
    a = Actor.__table__
    return select(*[a.c[c] for c in _CALLER_COLUMNS], a.c.digest_ha1).where(
        a.c.email == bindparam("email"), a.c.type == USER, a.c.deleted_at.is_(None))


def digest_user(db: Session, email: str, recent: Recent) -> tuple[Caller, str | None] | None:
    """The user signing in with Digest as this email, and its Digest hash (HA1), as a Caller; `recent`
    (one per app) keeps it a second: a phone syncing with a username and password signs every HEAD and POST."""
    email = email.strip().lower()
    found = recent.get(email)
    if found is None:
        row = db.connection().execute(_by_email_statement(), {"email": email}).first()
        if row is None:
            return None
        found = (Caller(*[row[i] for i in range(len(_CALLER_COLUMNS))]), row.digest_ha1)
        recent.put(email, found)
    return found


def user_by_email(db: Session, email: str) -> Actor | None:
    return db.scalars(
        select(Actor).where(Actor.email == email.strip().lower(), Actor.type == USER, Actor.deleted_at.is_(None))
    ).first()


def create_user(db: Session, email: str, password: str | None, display_name: str | None = None,
                site_role: str | None = None) -> Actor:
    user = Actor(type=USER, email=email.strip().lower(), display_name=display_name or email.strip(),
                 site_role=site_role)
    if password:
        user.set_password(password)
    db.add(user)
    db.flush()
    return user


# --- app users (the web pages use these; the REST resource has the same steps inline) --------------

def app_users_of(db: Session, project_id: int) -> list[tuple[Actor, str | None]]:
    """A project's live app users, newest first, each with its key (None once revoked)."""
    rows = db.execute(
        select(Actor, AuthSession.token).outerjoin(AuthSession, AuthSession.actor_id == Actor.id)
        .where(Actor.project_id == project_id, Actor.type == APP_USER, Actor.deleted_at.is_(None))
        .order_by(Actor.created_at.desc(), Actor.id.desc()))
    return [(actor, token) for actor, token in rows]


def app_user(db: Session, project_id: int, actor_id: int) -> Actor | None:
    actor = db.get(Actor, actor_id)
    if actor is None or actor.type != APP_USER or actor.project_id != project_id or actor.deleted_at is not None:
        return None
    return actor


def key_of(db: Session, actor_id: int) -> str | None:
    return db.scalar(select(AuthSession.token).where(AuthSession.actor_id == actor_id))


def create_app_user(db: Session, project_id: int, display_name: str, created_by_id: int | None) -> tuple[Actor, str]:
    """An app user and its long-lived key (no expiry: revoked by deleting the row)."""
    actor = Actor(type=APP_USER, display_name=display_name, project_id=project_id, created_by_id=created_by_id,
                  created_at=utcnow())
    db.add(actor)
    db.flush()
    return actor, create_session(db, actor, hours=None).token


def revoke_app_user(db: Session, actor: Actor) -> None:
    """The key stops working at once; the app user's submissions keep its id and name."""
    actor.deleted_at = utcnow()
    end_sessions(db, actor.id)


def form_access(db: Session, actor_ids: list[int]) -> dict[int, set[int]]:
    """For each app user, the forms it may list and submit to (the app-user role on the form)."""
    out: dict[int, set[int]] = {a: set() for a in actor_ids}
    if actor_ids:
        for a in db.scalars(select(FormAssignment).where(FormAssignment.actor_id.in_(actor_ids),
                                                         FormAssignment.role == "app-user")):
            out[a.actor_id].add(a.form_id)
    return out


def set_form_access(db: Session, actor: Actor, form_ids: set[int]) -> tuple[set[int], set[int]]:
    """Give an app user exactly these forms (ids already checked to be in its project); returns the
    forms added and those taken away."""
    have = form_access(db, [actor.id])[actor.id]
    for form_id in form_ids - have:
        db.add(FormAssignment(actor_id=actor.id, form_id=form_id, role="app-user"))
    if have - form_ids:
        db.execute(delete(FormAssignment).where(FormAssignment.actor_id == actor.id, FormAssignment.role == "app-user",
                                                FormAssignment.form_id.in_(have - form_ids)))
    db.flush()
    return form_ids - have, have - form_ids


# --- web users and their project roles (the pages use these; the REST resources the same steps) ----

PROJECT_ROLES = ("manager", "viewer", "formfill")


def web_users(db: Session) -> list[Actor]:
    return list(db.scalars(select(Actor).where(Actor.type == USER, Actor.deleted_at.is_(None)).order_by(Actor.email)))


def web_user(db: Session, user_id: int) -> Actor | None:
    user = db.get(Actor, user_id)
    return user if user is not None and user.type == USER and user.deleted_at is None else None


def delete_user(db: Session, user: Actor) -> None:
    """As DELETE /v1/users/{id}: the account stays for history (submissions, comments), signed out everywhere."""
    user.deleted_at = utcnow()
    end_sessions(db, user.id)


def project_roles(db: Session, project_id: int) -> list[tuple[Actor, str]]:
    """The live web users holding a role in the project, with the role, by email."""
    rows = db.execute(select(Actor, ProjectAssignment.role).join(ProjectAssignment, ProjectAssignment.actor_id == Actor.id)
                      .where(ProjectAssignment.project_id == project_id, Actor.deleted_at.is_(None))
                      .order_by(Actor.email, Actor.id, ProjectAssignment.role))
    return [(actor, role) for actor, role in rows]


def assign_role(db: Session, project_id: int, actor: Actor, role: str) -> bool:
    """Give a project role (once); False when the actor already had it."""
    if db.get(ProjectAssignment, (actor.id, project_id, role)) is not None:
        return False
    db.add(ProjectAssignment(actor_id=actor.id, project_id=project_id, role=role))
    db.flush()
    return True


def unassign_role(db: Session, project_id: int, actor_id: int, role: str) -> None:
    db.execute(delete(ProjectAssignment).where(ProjectAssignment.actor_id == actor_id,
                                               ProjectAssignment.project_id == project_id,
                                               ProjectAssignment.role == role))
