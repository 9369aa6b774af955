"""A form's webhooks and the log of their deliveries, with the SQL they need.

A delivery row is written in the same transaction as the submission it announces, so a submission
that was answered 201 always has its deliveries. The table is also the schedule: `claim_due` hands
out what is due — a new delivery, a retry whose backoff is over, one whose job was lost (its lease ran
out) — a few per hook at a time, so one slow receiver never holds every worker thread."""
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
    or_,
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
    # When a retry is due (None: now); a delivery waiting out its backoff is not handed out before.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a job is queued for the delivery, cleared when its attempt ends: while it is in the future the
    # delivery counts against its hook's share of the workers; once past, the job is taken as lost.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Retries stop after this (None: a day after created_at); a resend by hand gives a fresh day.
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    """One pending delivery per active hook, in the caller's transaction; their ids.
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


# How long a queued job may take to start and end before its delivery is handed out again (a worker
# killed mid-attempt, a job lost with an in-memory queue or before the broker stored it).
LEASE = timedelta(minutes=5)


def claim_due(db: Session, per_hook: int, webhook_id: int | None = None, limit: int = 200) -> list[int]:
    """Deliveries to queue now, leased so that no other dispatcher queues them too: due (new, or a retry
    whose time has come, or lost), oldest first, at most `per_hook` in the workers' hands per hook (counting
    those already leased). Two dispatchers racing may go one or two over the share, never send twice
    (`deliver` claims each attempt). Commits the lease."""
    now = utcnow()
    active = WebhookDelivery.status.in_((PENDING, RETRYING))
    free = or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now)
    due = or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now)
    busy = (select(WebhookDelivery.webhook_id, func.count().label("n"))
            .where(active, WebhookDelivery.leased_until >= now).group_by(WebhookDelivery.webhook_id).subquery())
    ranked = select(WebhookDelivery.id, WebhookDelivery.webhook_id,
                    func.row_number().over(partition_by=WebhookDelivery.webhook_id,
                                           order_by=WebhookDelivery.id).label("rank")).where(active, free, due)
    if webhook_id is not None:
        ranked = ranked.where(WebhookDelivery.webhook_id == webhook_id)
    r = ranked.subquery()
    ids = list(db.scalars(select(r.c.id).outerjoin(busy, busy.c.webhook_id == r.c.webhook_id)
                          .where(r.c.rank + func.coalesce(busy.c.n, 0) <= per_hook).order_by(r.c.id).limit(limit)))
    if not ids:
        db.rollback()
        return []
    claimed = list(db.scalars(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids), free)
                              .values(leased_until=now + LEASE).returning(WebhookDelivery.id)
                              .execution_options(synchronize_session=False)))
    db.commit()
    return sorted(claimed)


def mark_for_resend(db: Session, delivery: WebhookDelivery) -> None:
    """Due now, with a fresh day of retries; its attempts and creation time stay as they were."""
    now = utcnow()
    db.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id)
               .values(status=PENDING, updated_at=now, next_attempt_at=None, leased_until=None,
                       retry_until=now + timedelta(days=1)))


_recent_hooks = Recent("form webhooks", lambda: (Webhook,))


def announce(db: Session, form_id: int, submission_def_id: int, event: str) -> None:
    """Intake's one call: a delivery per active hook of the form, in the submission's transaction. A form
    without hooks costs a dictionary lookup (the hook list is remembered for a second)."""
    hook_ids = _recent_hooks.get(form_id)
    if hook_ids is None:
        hook_ids = active_hook_ids(db, form_id)
        _recent_hooks.put(form_id, hook_ids)
    if hook_ids and record_deliveries(db, hook_ids, submission_def_id, event):
        db.info[RECORDED_KEY] = True


# Set on a session that recorded deliveries: once it commits, an in-process dispatcher is nudged
# (server/webhooks/delivery.py listens); with a broker the worker's dispatcher finds them by itself.
RECORDED_KEY = "hamlet.webhook_deliveries"
