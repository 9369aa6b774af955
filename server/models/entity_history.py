"""What happened to an entity, as Central tells it: the audit log (`…/entities/{uuid}/audits`), the
changes between versions (`…/diffs`), each version's conflict details (`…/versions`), and the events
that make no version — deletion, restoration, a conflict resolved — which are kept here.

Versions already record creations and updates with their actor and source, and entity errors the
submissions that failed, so only the other events need a table (`entity_events`)."""
from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, isoformat, utcnow
from server.models.datasets import Dataset
from server.models.entities import (
    HARD,
    SOFT,
    UNLIMITED,
    Entity,
    EntityError,
    EntityScope,
    EntityVersion,
    versions_of,
)
from server.models.entity_backlog import BacklogEvent
from server.xforms.entities import EntityDataInvalid, normalise_uuid

DELETE, RESTORE, RESOLVE = "entity.delete", "entity.restore", "entity.update.resolve"


class EntityEvent(Base):
    """An event on an entity that makes no version: `entity.delete`, `entity.restore`,
    `entity.update.resolve` (with the version that was current when the conflict was resolved)."""

    __tablename__ = "entity_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    version: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict | None] = mapped_column(JSON)
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def record(db: Session, entity: Entity, action: str, actor_id: int | None, details: dict | None = None) -> None:
    db.add(EntityEvent(entity_id=entity.id, action=action, actor_id=actor_id, version=entity.version,
                       details=details, logged_at=utcnow()))
    db.flush()


# --- deleting and restoring ------------------------------------------------------------------------

def deleted_entity(db: Session, dataset: Dataset, uuid: str, scope: EntityScope = UNLIMITED) -> Entity | None:
    """The deleted entity with this UUID in the list, if in scope (400.11 for a UUID that is not one)."""
    uuid = normalise_uuid(uuid)
    return db.scalars(select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == uuid,
                                           Entity.deleted_at.is_not(None), scope.clause())).first()


def restore(db: Session, entity: Entity, actor_id: int | None) -> None:
    """Undo a deletion. `updated_at` moves too, so the list's hash changes and Collect sees the entity
    again (Central bumps it for the same reason)."""
    entity.deleted_at, entity.updated_at = None, utcnow()
    db.flush()
    record(db, entity, RESTORE, actor_id)


def delete(db: Session, entity: Entity, actor_id: int | None) -> None:
    entity.deleted_at = utcnow()
    db.flush()
    record(db, entity, DELETE, actor_id)


def _valid_uuids(ids: list[str]) -> list[str]:
    out = []
    for raw in ids:
        try:
            out.append(normalise_uuid(raw))
        except EntityDataInvalid:
            continue  # a UUID that is not one names no entity: nothing to do (Central counts 0)
    return out


def set_deleted(db: Session, dataset: Dataset, ids: list[str], deleted: bool, actor_id: int | None,
                scope: EntityScope = UNLIMITED) -> list[str]:
    """Bulk delete (or restore) the list's entities with these UUIDs that are live (or deleted) and in
    scope; entities of other lists or areas and unknown UUIDs are left alone. Returns the UUIDs changed."""
    uuids = _valid_uuids(ids)
    if not uuids:
        return []
    now = utcnow()
    found = list(db.scalars(select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid.in_(uuids),
                                                 Entity.deleted_at.is_(None) if deleted
                                                 else Entity.deleted_at.is_not(None), scope.clause())
                            .order_by(Entity.id).with_for_update()))
    if not found:
        return []
    values: dict[str, Any] = {"deleted_at": now} if deleted else {"deleted_at": None, "updated_at": now}
    db.execute(update(Entity).where(Entity.id.in_([e.id for e in found])).values(**values))
    for entity in found:
        db.add(EntityEvent(entity_id=entity.id, action=DELETE if deleted else RESTORE, actor_id=actor_id,
                           version=entity.version, details={"bulk": True} if len(found) > 1 else None, logged_at=now))
    db.flush()
    db.expire_all()
    return [e.uuid for e in found]


# --- reading the history ---------------------------------------------------------------------------

def events_of(db: Session, entity: Entity) -> list[EntityEvent]:
    return list(db.scalars(select(EntityEvent).where(EntityEvent.entity_id == entity.id).order_by(EntityEvent.id)))


def errors_about(db: Session, entity: Entity) -> list[EntityError]:
    return list(db.scalars(select(EntityError).where(EntityError.entity_uuid == entity.uuid).order_by(EntityError.id)))


def diffs(versions: list[EntityVersion]) -> list[list[dict]]:
    """Central's `…/diffs`: for each version after the first, how each property (and the label)
    changed from the version before; a property new in a version has no `old`."""
    states = [{"label": v.label, **v.data} for v in versions]
    out = []
    for before, after in pairwise(states):
        changes = []
        for key, new in after.items():
            if before.get(key) != new:
                change = {"new": new, "propertyName": key}
                if key in before:
                    change = {"old": before[key], **change}
                changes.append(change)
        out.append(changes)
    return out


def _differs(received: dict, other: dict) -> list[str]:
    """Central's getDiffProp: the keys of what a version received that differ from `other`."""
    return [k for k in received if k not in other or received[k] != other[k]]


class _Branch:
    """An offline branch: the last version of it still contiguous with its trunk (Central's rule,
    so a branch interrupted by an update from elsewhere shows as a conflict)."""

    def __init__(self, first: EntityVersion):
        if first.trunk_version is not None:
            self.last_contiguous = first.version if first.version == first.trunk_version + 1 else 0
        else:
            self.last_contiguous = 2 if first.version == 2 else 1

    def add(self, v: EntityVersion) -> None:
        if v.base_version == self.last_contiguous and v.version == (v.base_version or 0) + 1:
            self.last_contiguous = v.version


def conflict_details(versions: list[EntityVersion], resolved_at: int | None) -> list[dict[str, Any]]:
    """Per version (oldest first): `conflict`, `resolved`, `baseDiff`, `serverDiff`,
    `lastGoodVersion` and `relevantToConflict`, as Central's `…/versions` computes them.
    `resolved_at`: the version that was current when a conflict was last resolved."""
    result: list[dict[str, Any]] = []
    by_number = {v.version: v for v in versions}
    branches: dict[str, _Branch] = {}
    last_good = 0
    relevant_bases: set[int] = set()
    for v in versions:
        if v.branch_id is not None:
            if v.branch_id in branches:
                branches[v.branch_id].add(v)
            else:
                branches[v.branch_id] = _Branch(v)
        info: dict[str, Any] = {"conflict": None, "resolved": False, "baseDiff": [], "serverDiff": [],
                                "lastGoodVersion": False}
        if v.version > 1:
            base_number = v.base_version if v.base_version is not None else v.version - 1
            off_trunk = v.branch_id is not None and branches[v.branch_id].last_contiguous < base_number
            # A late create applied as an update (backlog) is a conflict too (Central's createAsUpdate).
            conflicted = v.version != base_number + 1 or off_trunk or bool(v.create_as_update)
            base, previous = by_number.get(base_number), by_number[v.version - 1]
            if base is not None:
                info["baseDiff"] = _differs(v.data_received, {**base.data, "label": base.label})
            info["serverDiff"] = _differs(v.data_received, {**previous.data, "label": previous.label})
            if conflicted:
                info["conflict"] = HARD if v.conflicting_properties else SOFT
                info["resolved"] = resolved_at is not None and resolved_at >= v.version
                if not info["resolved"] and last_good == 0:
                    last_good = v.version - 1
                    result[v.version - 2]["lastGoodVersion"] = True
            if last_good > 0:
                relevant_bases.add(base_number)
        result.append(info)
    for v, info in zip(versions, result, strict=True):
        info["relevantToConflict"] = last_good > 0 and (v.version >= last_good or v.version in relevant_bases)
    if last_good == 0 and result:
        result[-1]["lastGoodVersion"] = True
    return result


def last_resolution(db: Session, entity: Entity) -> int | None:
    return db.scalar(select(EntityEvent.version).where(EntityEvent.entity_id == entity.id,
                                                       EntityEvent.action == RESOLVE)
                     .order_by(EntityEvent.id.desc()).limit(1))


def audit_log(db: Session, dataset: Dataset, entity: Entity, names: dict[int, str]) -> list[dict[str, Any]]:
    """The entity's audit log, newest first, in Central's Audit shape with the extended `actor`:
    `entity.create`, `entity.update.version` (with the submission that made it), `entity.delete`,
    `entity.restore`, `entity.update.resolve`, `entity.error` for a submission that named the
    entity and failed, and `submission.backlog.hold|reprocess|force` for an offline update of it that
    waited (or still waits) in the backlog. `names`: actor id → display name."""
    def actor(actor_id: int | None) -> dict | None:
        return None if actor_id is None else {"id": actor_id, "displayName": names.get(actor_id, "")}

    subject = {"uuid": entity.uuid, "dataset": dataset.name}
    rows: list[tuple[datetime, int, dict[str, Any]]] = []
    for v in versions_of(db, entity):
        source: dict[str, Any] = {}
        if v.submission_id is not None:
            source = {"submission": {"id": v.submission_id, "submissionDefId": v.submission_def_id}}
        rows.append((v.created_at, 0, {
            "actorId": v.creator_id, "actor": actor(v.creator_id),
            "action": "entity.create" if v.version == 1 else "entity.update.version",
            "loggedAt": isoformat(v.created_at),
            "details": {"entity": subject, "entityDefId": v.id, "version": v.version, "source": source}}))
    for e in events_of(db, entity):
        details: dict[str, Any] = {"entity": subject, **(e.details or {})}
        if e.action == RESOLVE:
            details["version"] = e.version
        rows.append((e.logged_at, 1, {"actorId": e.actor_id, "actor": actor(e.actor_id), "action": e.action,
                                      "loggedAt": isoformat(e.logged_at), "details": details}))
    for ev in db.scalars(select(BacklogEvent).where(BacklogEvent.entity_uuid == entity.uuid).order_by(BacklogEvent.id)):
        rows.append((ev.logged_at, 1, {
            "actorId": ev.actor_id, "actor": actor(ev.actor_id), "action": ev.action, "loggedAt": isoformat(ev.logged_at),
            "details": {"entity": subject, "submissionId": ev.submission_id, "submissionDefId": ev.submission_def_id}}))
    for err in errors_about(db, entity):
        rows.append((err.created_at, 2, {
            "actorId": err.actor_id, "actor": actor(err.actor_id), "action": "entity.error",
            "loggedAt": isoformat(err.created_at),
            "details": {"entity": subject, "submissionId": err.submission_id, "submissionDefId": err.submission_def_id,
                        "errorMessage": err.message, "problem": {"problemCode": float(err.code), "problemDetails": None}}}))
    rows.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return [body for _, _, body in rows]


def deleted_entities(db: Session, dataset: Dataset, scope: EntityScope = UNLIMITED):
    """(entity, current version) of the list's deleted entities in scope, most recently deleted first."""
    return db.execute(select(Entity, EntityVersion)
                      .join(EntityVersion, (EntityVersion.entity_id == Entity.id)
                            & (EntityVersion.version == Entity.version))
                      .where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_not(None),
                             scope.clause(joined=True))
                      .order_by(Entity.deleted_at.desc(), Entity.id.desc()))
