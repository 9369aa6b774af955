"""A form's webhooks and the log of their deliveries, with the SQL they need.

A delivery row is written in the same transaction as the submission it announces, so a submission
that was answered 201 always has its deliveries; the job that sends one is queued after commit, and
a row a crash left unsent is queued again by the sweep (`pending_too_long`)."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.models.recent import Recent

# What a delivery is: waiting for its first attempt, failed and waiting for the next, done, or given up.
PENDING, RETRYING, DELIVERED, FAILED = "pending", "retrying", "delivered", "failed"


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    # The key of the X-Hamlet-Signature HMAC; shown to the manager who made the hook.
    secret: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(32))
    include_xml: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status", "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))  # submission.create | submission.update
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the queue's next attempt is due at the latest; the sweep queues a retrying delivery again only
    # once this has long passed (a lost job), never while it waits out its backoff.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def active_hook_ids(db: Session, form_id: int) -> list[int]:
    return list(db.scalars(select(Webhook.id).where(Webhook.form_id == form_id, Webhook.active.is_(True))
                           .order_by(Webhook.id)))


_INSERT_DELIVERY = (
    insert(WebhookDelivery)
    .from_select(["webhook_id", "submission_def_id", "event", "status", "attempts", "created_at", "updated_at"],
                 select(Webhook.id, bindparam("submission_def_id", type_=Integer), bindparam("event", type_=String),
                        literal(PENDING), literal(0), bindparam("now", type_=UTCDateTime),
                        bindparam("now", type_=UTCDateTime))
                 .where(Webhook.id == bindparam("webhook_id"), Webhook.active.is_(True)))
    .returning(WebhookDelivery.id))


def record_deliveries(db: Session, hook_ids: list[int], submission_def_id: int, event: str) -> list[int]:
    """One pending delivery per active hook, in the caller's transaction; their ids, to queue after commit.
    One compiled INSERT … SELECT … RETURNING per hook, as intake writes the submission: the ORM's flush of new
    objects, or a multi-row VALUES (compiled anew each time), cost more than the rest of taking in a
    submission (bench/README.md, bench/webhooks.py). It writes nothing for a hook deleted or paused since the
    list was remembered (on another node, a moment ago)."""
    now = utcnow()
    conn = db.connection()
    made = (conn.execute(_INSERT_DELIVERY, {"webhook_id": h, "submission_def_id": submission_def_id, "event": event,
                                            "now": now}).scalar_one_or_none()
            for h in hook_ids)
    return [d for d in made if d is not None]


def hooks_of(db: Session, form_id: int) -> list[Webhook]:
    return list(db.scalars(select(Webhook).where(Webhook.form_id == form_id).order_by(Webhook.id)))


def deliveries_of(db: Session, webhook_id: int, limit: int = 50, offset: int = 0) -> list[WebhookDelivery]:
    return list(db.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
                           .order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)))


def pending_too_long(db: Session, older_than: timedelta) -> list[int]:
    """Deliveries whose job should have run by now: queued before a crash, or lost with an in-memory queue."""
    cutoff = utcnow() - older_than
    due = func.coalesce(WebhookDelivery.next_attempt_at, WebhookDelivery.updated_at)
    return list(db.scalars(select(WebhookDelivery.id).where(WebhookDelivery.status.in_((PENDING, RETRYING)),
                                                            due < cutoff)
                           .order_by(WebhookDelivery.id).limit(1000)))


def mark_for_resend(db: Session, delivery: WebhookDelivery) -> None:
    db.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id)
               .values(status=PENDING, updated_at=utcnow(), created_at=utcnow(), next_attempt_at=None))


_recent_hooks = Recent("form webhooks", lambda: (Webhook,))


def announce(db: Session, form_id: int, submission_def_id: int, event: str) -> None:
    """Intake's one call: a delivery per active hook of the form, queued once the transaction commits.
    A form without hooks costs a dictionary lookup (the hook list is remembered for a second)."""
    hook_ids = _recent_hooks.get(form_id)
    if hook_ids is None:
        hook_ids = active_hook_ids(db, form_id)
        _recent_hooks.put(form_id, hook_ids)
    if hook_ids:
        queued = db.info.setdefault(QUEUED_KEY, [])
        queued.extend(record_deliveries(db, hook_ids, submission_def_id, event))


# The session's deliveries to queue after its commit (server/webhooks/delivery.py listens).
QUEUED_KEY = "hamlet.webhook_deliveries"
