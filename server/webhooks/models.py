"""A form's webhooks and the log of their deliveries, with the SQL they need.

A delivery row is written in the same transaction as the submission it announces, so a submission
that was answered 201 always has its deliveries. The table is also the schedule: `claim_due` hands
out what is due — a new delivery, a retry whose backoff is over, one whose job was lost (its lease ran
out) — a few per hook at a time, so one slow receiver never holds every worker thread."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.models.recent import Recent

# What a delivery is: waiting for its first attempt, failed and waiting for the next, done, or given up.
PENDING, RETRYING, DELIVERED, FAILED = "pending", "retrying", "delivered", "failed"
# A delivery still to send, as SQL text: the partial indexes' predicate, written the same way in the queries
# so that SQLite and PostgreSQL's generic plans can prove it and use them (bound parameters cannot).
STILL_TO_SEND = "status IN ('pending', 'retrying')"
_still_to_send = text(STILL_TO_SEND)
# Retries stop a day after the submission (or after a resend by hand).
GIVE_UP_AFTER = timedelta(days=1)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    # The key of the X-Hamlet-Signature HMAC; shown to the manager who made the hook.
    secret: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_hex(32))
    include_xml: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The receiver's health: attempts failed in a row, and until when it is left alone. While a receiver is
    # down, one delivery probes it after each wait (30 s doubling up to the hour), not every delivery on its
    # own schedule, so a dead endpoint costs one attempt per wait; its first success lets the backlog flow.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("actors.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # What the dispatcher reads: a hook's due deliveries in order of due time, and its deliveries in the
        # workers' hands. Both partial, so a table of millions of delivered rows stays out of them.
        Index("ix_webhook_deliveries_due", "webhook_id", "next_attempt_at",
              postgresql_where=text(STILL_TO_SEND), sqlite_where=text(STILL_TO_SEND)),
        Index("ix_webhook_deliveries_leased", "webhook_id", "leased_until",
              postgresql_where=text("leased_until IS NOT NULL"), sqlite_where=text("leased_until IS NOT NULL")),
    )

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
    # When the next attempt is due: at creation, after a backoff, or when a lease runs out; None once
    # delivered or given up.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a job is queued for the delivery, cleared when its attempt ends: while it is in the future the
    # delivery counts against its hook's share of the workers; once past, the job is taken as lost.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lease's token, moved on at each hand-out and at each attempt's start: a job carries the token it
    # was given, and one whose token has moved on (its lease ran out and the delivery went to another job,
    # a broker's redelivery) neither sends nor writes.
    lease: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Retries stop after this (None: a day after created_at); a resend by hand gives a fresh day.
    retry_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


def active_hook_ids(db: Session, form_id: int) -> list[int]:
    """On the session's connection: intake's lean transaction (server/db.py `ConnectionOnly`) has no ORM."""
    return list(db.connection().scalars(select(Webhook.id).where(Webhook.form_id == form_id, Webhook.active.is_(True))
                                        .order_by(Webhook.id)))


_INSERT_DELIVERY = (
    insert(WebhookDelivery)
    .from_select(["webhook_id", "submission_def_id", "event", "status", "attempts", "created_at", "updated_at",
                  "next_attempt_at"],
                 select(Webhook.id, bindparam("submission_def_id", type_=Integer), bindparam("event", type_=String),
                        literal(PENDING), literal(0), bindparam("now", type_=UTCDateTime),
                        bindparam("now", type_=UTCDateTime), bindparam("now", type_=UTCDateTime))
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


def claim_due(db: Session, per_hook: int, webhook_id: int | None = None) -> list[tuple[int, int]]:
    """Deliveries to queue now, as (id, lease token), leased so that no other dispatcher queues them too:
    per hook (one, or every hook whose receiver is not being left alone), the earliest due, as many as its
    share of the workers has room for — `per_hook` less those leased, one while its receiver is failing.
    Leasing moves the next attempt to the lease's end, so a lost job comes due again by itself. One small
    read per hook from the partial indexes, however long the log or the backlog, then one write. Two
    dispatchers racing may go one over a share; a delivery is still attempted by one job at a time (the
    token). Commits."""
    now = utcnow()
    d, w = WebhookDelivery, Webhook
    busy_of = (select(d.webhook_id, func.count()).where(d.leased_until.is_not(None), d.leased_until > now, _still_to_send)
               .group_by(d.webhook_id))
    hooks_now = select(w.id, w.failures).where(or_(w.resume_at.is_(None), w.resume_at <= now)).order_by(w.id)
    if webhook_id is not None:
        busy_of, hooks_now = busy_of.where(d.webhook_id == webhook_id), hooks_now.where(w.id == webhook_id)
    busy: dict[int, int] = dict(db.execute(busy_of).all())
    due: list[int] = []
    for hook, failures in db.execute(hooks_now).all():
        room = (1 if failures else per_hook) - busy.get(hook, 0)
        if room > 0:
            due += db.scalars(select(d.id).where(d.webhook_id == hook, _still_to_send, d.next_attempt_at <= now)
                              .order_by(d.next_attempt_at).limit(room))
    if not due:
        db.rollback()
        return []
    lease = now + LEASE
    claimed = db.execute(update(d).where(d.id.in_(due), _still_to_send, d.next_attempt_at <= now)
                         .values(leased_until=lease, next_attempt_at=lease, lease=d.lease + 1)
                         .returning(d.id, d.lease).execution_options(synchronize_session=False)).all()
    db.commit()
    return sorted((i, token) for i, token in claimed)


def tidy(db: Session) -> int:
    """Once a minute: give up what is past its day and not in a worker's hands — a receiver left alone for
    hours is not probed once per delivery, so its backlog would otherwise never end — and make due a delivery
    written without a due time (by a node of an older release during an upgrade). How many were given up."""
    now = utcnow()
    d = WebhookDelivery
    free = or_(d.leased_until.is_(None), d.leased_until < now)
    overdue = or_(and_(d.retry_until.is_(None), d.created_at < now - GIVE_UP_AFTER), d.retry_until < now)
    given_up = cast(CursorResult, db.execute(
        update(d).where(_still_to_send, free, overdue)
        .values(status=FAILED, next_attempt_at=None, leased_until=None, updated_at=now,
                last_error=func.coalesce(d.last_error, "not sent: the receiver could not be reached for a day"))
        .execution_options(synchronize_session=False))).rowcount
    db.execute(update(d).where(_still_to_send, d.next_attempt_at.is_(None)).values(next_attempt_at=d.updated_at)
               .execution_options(synchronize_session=False))
    db.commit()
    return given_up


def note_outcome(db: Session, hook_id: int, ok: bool, wait: timedelta) -> None:
    """After an attempt: a success clears the receiver's failures; a failure leaves it alone for `wait`.
    In SQL, so that attempts ending together count right; a healthy hook's row is not written at all."""
    w = Webhook
    if ok:
        db.execute(update(w).where(w.id == hook_id, or_(w.failures > 0, w.resume_at.is_not(None)))
                   .values(failures=0, resume_at=None).execution_options(synchronize_session=False))
    else:
        db.execute(update(w).where(w.id == hook_id).values(failures=w.failures + 1, resume_at=utcnow() + wait)
                   .execution_options(synchronize_session=False))


def receiver_changed(hook: Webhook) -> None:
    """A new address, or the hook resumed: whatever failed before says nothing about it now."""
    hook.failures, hook.resume_at = 0, None


def mark_for_resend(db: Session, delivery: WebhookDelivery) -> None:
    """Due now, with a fresh day of retries; its attempts and creation time stay as they were. It is also the
    probe of a receiver being left alone. Refused while an attempt is under way (it could send it twice)."""
    from server.problems import DeliveryUnderWay

    now = utcnow()
    if delivery.leased_until is not None and delivery.leased_until > now and delivery.status in (PENDING, RETRYING):
        raise DeliveryUnderWay()
    d = WebhookDelivery
    db.execute(update(d).where(d.id == delivery.id)
               .values(status=PENDING, updated_at=now, next_attempt_at=now, leased_until=None,
                       retry_until=now + GIVE_UP_AFTER))
    db.execute(update(Webhook).where(Webhook.id == delivery.webhook_id, Webhook.resume_at.is_not(None))
               .values(resume_at=None).execution_options(synchronize_session=False))


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
