"""Password links: the single-use tokens an invitation or a reset email carries, and their SQL.

Only a SHA-256 of each token is stored, so a copy of the database opens no account. A token is used
by one UPDATE that succeeds only while it is unused and unexpired, so two requests with one link
cannot both set a password, on SQLite or PostgreSQL."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow

INVITE = "invite"
RESET = "reset"
# Central's reset tokens last one day. An invitation lasts a week: a commune official may not read
# email every day, and "Forgot password?" gives a new link after that.
LIFETIME = {RESET: timedelta(days=1), INVITE: timedelta(days=7)}
# Used and expired rows are kept this long past their expiry (the link's page can still say "expired"
# rather than "not valid"), then deleted by the next issue().
KEEP_EXPIRED = timedelta(days=30)


class PasswordToken(Base):
    __tablename__ = "password_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue(db: Session, actor_id: int, purpose: str) -> str:
    """A new token for the user (added to the session; the caller commits) — the only time its text exists."""
    token = secrets.token_urlsafe(32)       # 43 characters, safe in a URL as it is
    now = utcnow()
    db.execute(delete(PasswordToken).where(PasswordToken.expires_at < now - KEEP_EXPIRED))
    db.add(PasswordToken(token_hash=_hash(token), actor_id=actor_id, purpose=purpose, created_at=now,
                         expires_at=now + LIFETIME[purpose]))
    db.flush()
    return token


def peek(db: Session, token: str) -> PasswordToken | None:
    """The token's row when it can still be used (the set-password page shows the form only then)."""
    row = db.get(PasswordToken, _hash(token))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def state(db: Session, token: str) -> str:
    """'usable', 'used', 'expired' or 'unknown', for a message that says which."""
    row = db.get(PasswordToken, _hash(token))
    if row is None:
        return "unknown"
    if row.used_at is not None:
        return "used"
    return "expired" if row.expires_at <= utcnow() else "usable"


def consume(db: Session, token: str) -> int | None:
    """Mark the token used, if it still may be, and return its user's id; None otherwise."""
    now = utcnow()
    digest = _hash(token)
    done = db.execute(update(PasswordToken)
                      .where(PasswordToken.token_hash == digest, PasswordToken.used_at.is_(None),
                             PasswordToken.expires_at > now)
                      .values(used_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:   # type: ignore[attr-defined]
        return None
    return db.scalar(select(PasswordToken.actor_id).where(PasswordToken.token_hash == digest))


def retire_all(db: Session, actor_id: int) -> None:
    """Every unused token of the user stops working (its password changed, or its account was locked)."""
    db.execute(update(PasswordToken).where(PasswordToken.actor_id == actor_id, PasswordToken.used_at.is_(None))
               .values(used_at=utcnow()).execution_options(synchronize_session=False))
