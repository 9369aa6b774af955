"""Offline entities' backlog, as Central keeps it (central-backend lib/model/query/entities.js
`_holdSubmission`, `processBacklog`; table `entity_submission_backlog`).

Collect numbers the updates a phone makes to an entity while offline as one *branch* (`branchId`),
each naming the version before it (`baseVersion`, local to the branch). When an update arrives
before the one it follows, it is held here — keyed by branch and base version, in the database, so
a restart loses nothing — and applied as soon as the missing update arrives (which may release the
next: a chain). An update still waiting after the timeout (Central: 5 days) is forced through on
top of the entity's current version, or creates the entity when its offline create never came.

Each hold, release ("reprocess") and force is recorded for the submission's audits
(`submission.backlog.hold|reprocess|force`). The logic lives with the rest of intake's entity
rules in server/models/entities.py; this module keeps the tables and their queries."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, delete, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow

HOLD, REPROCESS, FORCE = "submission.backlog.hold", "submission.backlog.reprocess", "submission.backlog.force"
# Central's default.taskSchedule.entitySubmissionBacklog.
DEFAULT_DAYS = 5


class HeldEntity(Base):
    """One entity block of a submission (the `entity_index`-th) waiting for the earlier update of its
    offline branch: the version `branch_base_version - 1` of branch `branch_id`, or the entity's
    creation when `branch_base_version` is 1."""

    __tablename__ = "entity_submission_backlog"
    __table_args__ = (UniqueConstraint("submission_id", "entity_index"),
                      Index("ix_entity_submission_backlog_branch", "branch_id", "branch_base_version"))

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id", ondelete="CASCADE"))
    entity_index: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    entity_uuid: Mapped[str] = mapped_column(String(36), index=True)
    branch_id: Mapped[str] = mapped_column(String(36))
    branch_base_version: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BacklogEvent(Base):
    """`submission.backlog.hold`, `.reprocess` or `.force` of one of a submission's entities."""

    __tablename__ = "entity_backlog_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    submission_def_id: Mapped[int | None] = mapped_column(ForeignKey("submission_defs.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    entity_uuid: Mapped[str | None] = mapped_column(String(36), index=True)  # for the entity's audit log
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def log(db: Session, held: HeldEntity, action: str) -> None:
    db.add(BacklogEvent(submission_id=held.submission_id, submission_def_id=held.submission_def_id, action=action,
                        entity_uuid=held.entity_uuid, actor_id=held.actor_id, logged_at=utcnow()))


def hold(db: Session, *, submission_id: int, submission_def_id: int, entity_index: int, dataset_id: int,
         entity_uuid: str, branch_id: str, branch_base_version: int, actor_id: int | None) -> HeldEntity:
    held = HeldEntity(submission_id=submission_id, submission_def_id=submission_def_id, entity_index=entity_index,
                      dataset_id=dataset_id, entity_uuid=entity_uuid, branch_id=branch_id,
                      branch_base_version=branch_base_version, actor_id=actor_id, logged_at=utcnow())
    db.add(held)
    log(db, held, HOLD)
    db.flush()
    return held


def next_in_branch(db: Session, entity_uuid: str, branch_id: str | None, branch_base_version: int) -> HeldEntity | None:
    """The held update that follows a version just made (Central `_getNextHeldSubmissionInBranch`): in
    its branch, the one based on it; after a version of no branch (an online create), the first
    update of any branch of that entity."""
    stmt = select(HeldEntity)
    if branch_id is None:
        stmt = stmt.where(HeldEntity.entity_uuid == entity_uuid, HeldEntity.branch_base_version == 1)
    else:
        stmt = stmt.where(HeldEntity.branch_id == branch_id, HeldEntity.branch_base_version == branch_base_version)
    return db.scalars(stmt.order_by(HeldEntity.id).limit(1)).first()


def any_waiting(db: Session, entity_uuids: list[str], branch_ids: list[str]) -> bool:
    """Whether any update waits for one of these entities or branches (one look for many entities)."""
    cond = or_(HeldEntity.entity_uuid.in_(entity_uuids), HeldEntity.branch_id.in_(branch_ids or [""]))
    return db.scalar(select(HeldEntity.id).where(cond).limit(1)) is not None


def held_of(db: Session, submission_id: int) -> list[HeldEntity]:
    return list(db.scalars(select(HeldEntity).where(HeldEntity.submission_id == submission_id)
                           .order_by(HeldEntity.entity_index)))


def events_of(db: Session, submission_id: int) -> list[BacklogEvent]:
    return list(db.scalars(select(BacklogEvent).where(BacklogEvent.submission_id == submission_id)
                           .order_by(BacklogEvent.id)))


def held_about(db: Session, entity_uuid: str) -> list[HeldEntity]:
    """The updates of this entity still waiting (for its audit log and page)."""
    return list(db.scalars(select(HeldEntity).where(HeldEntity.entity_uuid == entity_uuid).order_by(HeldEntity.id)))


def due(db: Session, force: bool, days: float = DEFAULT_DAYS, limit: int | None = None) -> list[int]:
    """The ids of the held updates to force through: all with `force`, else those held for longer than
    `days`; in branch order, so a branch's updates are applied oldest first."""
    stmt = select(HeldEntity.id)
    if not force:
        stmt = stmt.where(HeldEntity.logged_at < utcnow() - timedelta(days=days))
    stmt = stmt.order_by(HeldEntity.branch_id, HeldEntity.branch_base_version, HeldEntity.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.scalars(stmt))


def release(db: Session, held: HeldEntity, action: str) -> None:
    """Take the held update out of the backlog, recording why (reprocess or force)."""
    log(db, held, action)
    db.execute(delete(HeldEntity).where(HeldEntity.id == held.id))
    db.flush()
