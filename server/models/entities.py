"""Entities and their versions: created and updated from submissions (in the submission's own
transaction) or through the API, with Central's rules for versions and conflicts (docs/entities.md).

Central's lib/model/query/entities.js is the reference: an update names the version it started from
(`baseVersion`); when that is not the current version the update is still kept, on top of the
current data, and the entity is flagged `soft` (the update touched other properties) or `hard` (it
changed a property that changed on the server since its base) until someone resolves it."""
from __future__ import annotations

import itertools
import json
import uuid as uuidlib
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    column,
    exists,
    false,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from server import problems
from server.db import Base, UTCDateTime, utcnow
from server.models import entity_backlog as backlog
from server.models.datasets import Dataset, DatasetForm, DatasetProperty, dataset_by_name, properties_of
from server.models.recent import Recent
from server.xforms.entities import (
    EntityDataInvalid,
    EntityDeclaration,
    SubmittedEntity,
    normalise_uuid,
    read_all_submitted,
    read_declarations,
    read_submitted,
)

SOFT, HARD = "soft", "hard"
# Central's label for an entity created by forcing an offline update whose create never arrived.
AUTO_LABEL = "auto generated"


class Entity(Base):
    """One row of an Entity List (a household), known by its UUID."""

    __tablename__ = "entities"
    __table_args__ = (Index("ix_entities_dataset_id", "dataset_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer, default=1)        # the current version's number
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    conflict: Mapped[str | None] = mapped_column(String(8))         # None, "soft" or "hard"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EntityVersion(Base):
    """One version of an entity: its label and all its properties then, and what made it."""

    __tablename__ = "entity_versions"
    __table_args__ = (UniqueConstraint("entity_id", "version"),
                      Index("ix_entity_versions_submission", "submission_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int | None] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    label: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSON)                       # every property, after this version
    data_received: Mapped[dict] = mapped_column(JSON)              # what this version's source sent
    conflicting_properties: Mapped[list | None] = mapped_column(JSON)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="SET NULL"))
    submission_def_id: Mapped[int | None] = mapped_column(ForeignKey("submission_defs.id", ondelete="SET NULL"))
    branch_id: Mapped[str | None] = mapped_column(String(36))      # offline entities (spec 2024.1)
    trunk_version: Mapped[int | None] = mapped_column(Integer)
    branch_base_version: Mapped[int | None] = mapped_column(Integer)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Offline backlog (server/models/entity_backlog.py): made by forcing a held update through; or a
    # late create applied as an update on top of an entity a forced update had created (a conflict).
    forced: Mapped[bool | None] = mapped_column(Boolean)
    create_as_update: Mapped[bool | None] = mapped_column(Boolean)


class EntityError(Base):
    """A submission whose entity block could not be applied (Central's `entity.error` audit): the
    submission is kept; the error is shown with it and the entity is tried again on its next edit."""

    __tablename__ = "entity_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    submission_def_id: Mapped[int | None] = mapped_column(ForeignKey("submission_defs.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("actors.id"))
    code: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    entity_uuid: Mapped[str | None] = mapped_column(String(36), index=True)  # the entity it was about, if named


@dataclass(frozen=True)
class Source:
    """Who or what makes a version: a submission (with its version) or an API call."""

    actor_id: int | None
    user_agent: str | None = None
    submission_id: int | None = None
    submission_def_id: int | None = None


@dataclass(frozen=True)
class EntityScope:
    """Which entities of a list a caller may reach: those whose area property, in their current version,
    holds one of `codes` (the caller's areas and those below them). `codes` None: every entity, those
    without an area included (a caller not limited to areas). Made by server/auth/scope.py
    `entity_scope`; every query over a list's entities takes one, so REST, OData, the CSV files, the
    GeoJSON, `households.csv` and the register pages hold the same households."""

    area_property: str | None = None
    codes: frozenset[str] | None = None

    @property
    def limited(self) -> bool:
        return self.codes is not None

    def clause(self, joined: bool = False) -> ColumnElement[bool]:
        """The condition on `Entity` (`joined`: on the current `EntityVersion`, already joined; otherwise
        a correlated EXISTS that can be added to any query over `entities`)."""
        if self.codes is None:
            return true()
        if self.area_property is None or not self.codes:
            return false()  # fail closed: no area to test against
        codes = sorted(self.codes)
        if joined:
            return EntityVersion.data[self.area_property].as_string().in_(codes)
        current = aliased(EntityVersion)
        return exists().where(current.entity_id == Entity.id, current.version == Entity.version,
                              current.data[self.area_property].as_string().in_(codes))

    def allows(self, data: dict | None) -> bool:
        """Whether an entity with these properties lies in scope (for one being created or changed)."""
        if self.codes is None:
            return True
        value = (data or {}).get(self.area_property) if self.area_property else None
        return isinstance(value, str) and value in self.codes


UNLIMITED = EntityScope()


# --- reading ---------------------------------------------------------------------------------------

def entity_in(db: Session, dataset: Dataset, uuid: str, deleted: bool = False, lock: bool = False,
              scope: EntityScope = UNLIMITED) -> Entity | None:
    """The entity of the list with this UUID, if the scope reaches it (None otherwise: 404)."""
    try:
        uuid = normalise_uuid(uuid)
    except EntityDataInvalid:
        return None
    stmt = select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == uuid, scope.clause())
    stmt = stmt.where(Entity.deleted_at.is_not(None) if deleted else Entity.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()  # PostgreSQL; SQLite's intake already holds the write lock
    return db.scalars(stmt).first()


def current_version(db: Session, entity: Entity) -> EntityVersion:
    return db.scalars(select(EntityVersion).where(EntityVersion.entity_id == entity.id,
                                                  EntityVersion.version == entity.version)).one()


def versions_of(db: Session, entity: Entity) -> list[EntityVersion]:
    return list(db.scalars(select(EntityVersion).where(EntityVersion.entity_id == entity.id)
                           .order_by(EntityVersion.version)))


def live_entities(db: Session, dataset: Dataset, scope: EntityScope = UNLIMITED):
    """(entity, current version) of the live entities in scope, newest first; a streamed result."""
    return db.execute(select(Entity, EntityVersion)
                      .join(EntityVersion, (EntityVersion.entity_id == Entity.id)
                            & (EntityVersion.version == Entity.version))
                      .where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None), scope.clause(joined=True))
                      .order_by(Entity.id.desc()).execution_options(yield_per=1000))


def list_rows(db: Session, dataset: Dataset, properties: list[str], scope: EntityScope = UNLIMITED,
              owner_id: int | None = None) -> Iterator[tuple]:
    """The rows of the list's CSV for Collect (`name`, `label`, `__version`, then `properties`), newest first,
    of the live entities in `scope` (and created by `owner_id`, for an ownerOnly list).

    Plain columns from a streamed SELECT, no ORM objects: at 100,000 entities building an Entity and an
    EntityVersion per row was over half of the time households.csv took (bench/entities.py)."""
    mine = Entity.creator_id == owner_id if owner_id is not None else true()
    stmt = (select(Entity.uuid, EntityVersion.label, EntityVersion.version, EntityVersion.data)
            .join(EntityVersion, (EntityVersion.entity_id == Entity.id) & (EntityVersion.version == Entity.version))
            .where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None), mine, scope.clause(joined=True))
            .order_by(Entity.id.desc()).execution_options(yield_per=2000))
    for uuid, label, version, data in db.execute(stmt):
        get = data.get
        yield (uuid, label, version, *[get(p, "") for p in properties])


def list_csv_copy(db: Session, dataset: Dataset, properties: list[str], scope: EntityScope = UNLIMITED,
                  owner_id: int | None = None) -> Iterator[bytes] | None:
    """The rows of `list_rows` as CSV bytes written by PostgreSQL (`COPY (SELECT …) TO STDOUT (FORMAT csv)`),
    byte for byte what Python's csv writer makes of them; None on another database. At 100,000 entities
    the Python path spends ~2 s of CPU decoding each version's JSON and writing CSV; here one
    `json_to_record` per row in the database and 64 KB chunks passed through (bench/entities.py).

    Python's writer and COPY differ in two ways, both handled: COPY quotes an empty string (NULLIF makes
    it NULL, written empty as Python writes both) and a field holding a carriage return without a line
    feed, which Python leaves bare: a row with a CR (rare: a `&#13;` in a submission, or the API) is read
    back and written again by Python's writer. Only string properties (what intake and the API store)
    read the same both ways."""
    conn = db.connection()
    if conn.dialect.name != "postgresql":
        return None
    raw = conn.connection.driver_connection
    if raw is None or raw.info.encoding.replace("-", "").lower() != "utf8":
        return None
    record = (func.json_to_record(EntityVersion.data)
              .table_valued(*[column(p, Text) for p in properties]).render_derived(name="r", with_types=True))
    mine = Entity.creator_id == owner_id if owner_id is not None else true()
    stmt = (select(Entity.uuid, EntityVersion.label, EntityVersion.version,
                   *[func.nullif(record.c[p], "") for p in properties])
            .join(EntityVersion, (EntityVersion.entity_id == Entity.id) & (EntityVersion.version == Entity.version))
            .join(record, true())
            .where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None), mine, scope.clause(joined=True))
            .order_by(Entity.id.desc()))
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    return _copy_out(raw, f"COPY ({sql}) TO STDOUT (FORMAT csv)")


def _copy_out(raw, sql: str) -> Iterator[bytes]:
    """COPY's rows (one message each) joined 2,000 at a time; a chunk holding a CR is rewritten by Python's
    csv writer (every chunk ends at a row's end)."""
    import csv
    import io

    with raw.cursor() as cur, cur.copy(sql) as copy:
        rows = iter(copy)
        while chunk := b"".join(itertools.islice(rows, 2000)):
            if b"\r" in chunk:  # COPY quoted the field, Python's writer would not
                text = io.StringIO()
                csv.writer(text, lineterminator="\n").writerows(csv.reader(io.StringIO(chunk.decode(), newline="")))
                chunk = text.getvalue().encode()
            yield chunk


def entity_errors_of(db: Session, submission_id: int) -> list[EntityError]:
    return list(db.scalars(select(EntityError).where(EntityError.submission_id == submission_id)
                           .order_by(EntityError.id)))


def versions_from_submission(db: Session, submission_id: int) -> list[tuple[EntityVersion, Entity]]:
    return [(v, e) for v, e in db.execute(select(EntityVersion, Entity).join(Entity, Entity.id == EntityVersion.entity_id)
                                          .where(EntityVersion.submission_id == submission_id)
                                          .order_by(EntityVersion.id))]


# --- writing ---------------------------------------------------------------------------------------

def _check_data(dataset_properties: list[str], data: dict) -> dict[str, str]:
    out = {}
    for key, value in (data or {}).items():
        if key not in dataset_properties:
            raise problems.InvalidEntity(f"The entity is invalid. You specified the property '{key}', which the "
                                         "Entity List does not have.", details={"field": key})
        if not isinstance(value, str):
            raise problems.UnexpectedValue(f"The value of '{key}' must be a string.", details={"field": key})
        out[key] = value
    return out


def create_entity(db: Session, dataset: Dataset, uuid: str | None, label: str | None, data: dict,
                  source: Source, branch: tuple[str | None, int | None] = (None, None),
                  branch_base_version: int | None = None, forced: bool = False) -> Entity:
    """A new entity at version 1; 409.3 when its UUID is taken (even by a deleted entity). `forced`: an
    offline update forced through the backlog creates it (with its branch's base version)."""
    uuid = normalise_uuid(uuid) if uuid else str(uuidlib.uuid4())
    if label is None or not label.strip():
        raise problems.MissingParameter("The entity has no label. Give it one (the entities sheet's label).",
                                        details={"field": "label"})
    if db.scalar(select(Entity.id).where(Entity.uuid == uuid)) is not None:
        raise problems.UniquenessViolation(f"An entity with UUID {uuid} already exists.",
                                           details={"fields": ["uuid"], "values": [uuid]})
    now = utcnow()
    entity = Entity(uuid=uuid, dataset_id=dataset.id, version=1, creator_id=source.actor_id, created_at=now)
    db.add(entity)
    db.flush()
    db.add(EntityVersion(entity_id=entity.id, version=1, base_version=None, current=True, label=label, data=data,
                         data_received={"label": label, **data}, submission_id=source.submission_id,
                         submission_def_id=source.submission_def_id, branch_id=branch[0],
                         trunk_version=branch[1], branch_base_version=branch_base_version, creator_id=source.actor_id,
                         user_agent=(source.user_agent or None) and source.user_agent[:255], created_at=now,
                         forced=forced or None))
    db.flush()
    return entity


def _changed_since(base: EntityVersion, current: EntityVersion) -> dict[str, str]:
    """What changed on the server between the update's base and the current version (label included)."""
    changed = {k: v for k, v in current.data.items() if base.data.get(k) != v}
    if current.label != base.label:
        changed["label"] = current.label
    return changed


def add_version(db: Session, entity: Entity, current: EntityVersion, base: EntityVersion, label: str | None,
                data: dict[str, str], source: Source, branch: tuple[str | None, int | None, int | None] = (None, None, None),
                interrupted: bool = False, forced: bool = False, create_as_update: bool = False) -> EntityVersion:
    """The next version on top of the current one, flagging a conflict as Central does. A create applied
    as an update is always a conflict: hard when it sends a value the entity has otherwise."""
    conflict, conflicting = entity.conflict, None
    received = dict(data)
    if label is not None:
        received["label"] = label
    if base.version != current.version or create_as_update:
        if create_as_update:
            server = {k: v for k, v in current.data.items() if received.get(k) != v}
            if current.label != received.get("label"):
                server["label"] = current.label
        else:
            server = _changed_since(base, current)
        conflicting = [k for k in received if k in server and received[k] != server[k]]
        if conflict != HARD:
            conflict = HARD if conflicting else SOFT
    elif interrupted and conflict != HARD:
        conflict = SOFT
    now = utcnow()
    current.current = False
    version = EntityVersion(entity_id=entity.id, version=current.version + 1, base_version=base.version, current=True,
                            label=label if label is not None and label.strip() else current.label,
                            data={**current.data, **data}, data_received=received,
                            conflicting_properties=conflicting, submission_id=source.submission_id,
                            submission_def_id=source.submission_def_id, branch_id=branch[0],
                            trunk_version=branch[1], branch_base_version=branch[2], creator_id=source.actor_id,
                            user_agent=(source.user_agent or None) and source.user_agent[:255], created_at=now,
                            forced=forced or None, create_as_update=create_as_update or None)
    db.flush()  # the old version stops being current before the new one is written
    db.add(version)
    entity.version, entity.conflict, entity.updated_at = version.version, conflict, now
    db.flush()
    return version


def update_from_api(db: Session, dataset: Dataset, entity: Entity, body: dict, base_version: str | None, force: bool,
                    resolve: bool, source: Source) -> Entity:
    """PATCH …/entities/{uuid}: `baseVersion` must be the current version unless `force`."""
    current = current_version(db, entity)
    if not force and base_version != str(current.version):
        raise problems.EntityVersionConflict(
            f"The current version of the entity is {current.version} and you provided {base_version!r}. Send the "
            "current version as ?baseVersion=, or ?force=true to update anyway.",
            details={"current": str(current.version), "provided": base_version})
    if resolve and entity.conflict is None:
        raise problems.Problem("The entity has no conflict to resolve.", code="400.32")
    label, data = body.get("label"), body.get("data")
    if label is None and data is None:
        if resolve:
            entity.conflict, entity.updated_at = None, utcnow()
            db.flush()
            return entity
        raise problems.InvalidEntity("The entity is invalid. No entity data or label provided.")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise problems.UnexpectedValue("The label cannot be blank.", details={"field": "label"})
    names = [p.name for p in properties_of(db, dataset.id)]
    add_version(db, entity, current, current, label, _check_data(names, data or {}), source)
    if resolve:
        entity.conflict = None
    db.flush()
    return entity


def create_from_api(db: Session, dataset: Dataset, body: dict, source: Source) -> Entity:
    unexpected = set(body) - {"uuid", "label", "data"}
    if unexpected:
        raise problems.UnexpectedAttribute(f"Unexpected attributes {sorted(unexpected)}; expected uuid, label, data.",
                                           details={"expected": ["label", "uuid", "data"], "actual": sorted(body)})
    if body.get("uuid") is not None and not isinstance(body["uuid"], str):
        raise problems.UnexpectedValue("The uuid must be a string.", details={"field": "uuid"})
    if body.get("label") is not None and not isinstance(body["label"], str):
        raise problems.UnexpectedValue("The label must be a string.", details={"field": "label"})
    names = [p.name for p in properties_of(db, dataset.id)]
    try:
        return create_entity(db, dataset, body.get("uuid"), body.get("label"), _check_data(names, body.get("data") or {}),
                             source)
    except EntityDataInvalid as exc:
        raise problems.UnexpectedValue(str(exc), details={"field": exc.field}) from None


# --- from submissions ------------------------------------------------------------------------------

# Per app (keyed by its VersionCache), as the schemas are: a fresh app, e.g. in tests, starts empty.
_DECLARATIONS: weakref.WeakKeyDictionary[object, dict[int, tuple[EntityDeclaration, ...]]] = weakref.WeakKeyDictionary()


def declaration_for(db: Session, form_def_id: int, cache: object | None = None) -> tuple[EntityDeclaration, ...]:
    """A published version's entity declarations (empty: none), read once per app (published versions
    never change)."""
    memo = _DECLARATIONS.setdefault(cache, {}) if cache is not None else {}
    if form_def_id not in memo:
        from server.models.forms import FormDef

        xml = db.scalar(select(FormDef.xml).where(FormDef.id == form_def_id))
        memo[form_def_id] = read_declarations(xml) if xml else ()
    return memo[form_def_id]


@dataclass(frozen=True)
class _Made:
    """The version one entity block just made: which held update it may release (its branch's next)."""

    uuid: str
    branch_id: str | None
    branch_base_version: int | None
    created: bool = False

    @property
    def may_release(self) -> bool:
        """Only a creation or an offline update can be what a held update waits for: an online update
        (no branch) of an existing entity is not, so it costs no look at the backlog."""
        return self.created or self.branch_id is not None


def apply_submission(db: Session, project_id: int, form_def_id: int, root, submission_id: int,
                     submission_def_id: int, source: Source, event: str = "create", cache: object | None = None) -> None:
    """Turn a submission's entity blocks into entity creates and updates, in the caller's transaction.

    `event` is "create" (a new submission), "edit" (a new version) or "approved" (a review). A
    failure is kept as an EntityError; the submission itself is stored whatever happens here. An
    offline update that arrives before the update it follows is held (server/models/entity_backlog.py)
    and applied when that one arrives; whatever is made may release the next held update."""
    declarations = declaration_for(db, form_def_id, cache)
    if not declarations or root is None:
        return
    blocks = [(i, d, s) for i, (d, s) in enumerate(read_all_submitted(root, declarations)) if s.create or s.update]
    if not blocks:
        return
    # A submission just stored has made nothing yet; an edit or a review may find its entities made
    # (Central: processed once) or held already.
    if event != "create":
        done = _handled(db, submission_id)
        blocks = [b for b in blocks if _uuid_or_none(b[2].id) not in done]
        if not blocks:
            return
    db.flush()
    if any(s.branch_id for _, _, s in blocks):  # offline: first force through what has waited past the timeout
        force_due(db, cache, limit=10)
    if len(blocks) == 1:
        index, declaration, submitted = blocks[0]
        made = _apply_one(db, project_id, index, declaration, submitted, source, event, cache)
        made_all = [made] if made is not None else []
    else:
        made_all = _apply_many(db, project_id, blocks, source, event, cache)
    made_all = [m for m in made_all if m.may_release]
    if len(made_all) > 1 and not backlog.any_waiting(db, [m.uuid for m in made_all],
                                                     [m.branch_id for m in made_all if m.branch_id]):
        return  # a roster's many entities: one look at the backlog rather than one each
    for made in made_all:
        _release_chain(db, made, cache)


def _apply_one(db: Session, project_id: int, index: int, declaration: EntityDeclaration, submitted: SubmittedEntity,
               source: Source, event: str, cache: object | None, force: bool = False) -> _Made | None:
    try:
        if event == "create" and submitted.create and not submitted.update and not force:
            return _create_from_submission(db, project_id, declaration, submitted, source)
        with db.begin_nested():
            return _apply(db, project_id, declaration, submitted, source, event, cache, index, force)
    except (problems.Problem, EntityDataInvalid, IntegrityError) as exc:
        code, message = _failure(exc, submitted)
        _record_error(db, source.submission_id or 0, source.submission_def_id or 0, source, code, message, submitted.id)
        return None


def _apply_many(db: Session, project_id: int, blocks: list, source: Source, event: str,
                cache: object | None) -> list[_Made]:
    """Several entities from one submission (a roster, several lists): all of them or none, as Central
    does; the failures are recorded together as one error (400.43) naming each entity by its number."""
    made_all: list[_Made] = []
    errors: list[str] = []
    outer = db.begin_nested()
    for number, (index, declaration, submitted) in enumerate(blocks, start=1):
        try:
            with db.begin_nested():
                made = _apply(db, project_id, declaration, submitted, source, event, cache, index)
            if made is not None:
                made_all.append(made)
        except (problems.Problem, EntityDataInvalid, IntegrityError) as exc:
            errors.append(f"(Entity {number}) {_failure(exc, submitted)[1]}")
    if not errors:
        outer.commit()
        return made_all
    outer.rollback()
    _record_error(db, source.submission_id or 0, source.submission_def_id or 0, source, "400.43",
                  f"Failed to process {len(blocks)} entities in submission due to {len(errors)} errors: "
                  + " ".join(errors))
    return []


def _failure(exc: Exception, submitted: SubmittedEntity) -> tuple[str, str]:
    if isinstance(exc, problems.Problem):
        return exc.code, exc.message
    if isinstance(exc, EntityDataInvalid):
        return ("400.2" if "has no" in str(exc) else "400.11"), str(exc)
    # IntegrityError: a concurrent submission made the same entity a moment ago
    return "409.3", f"An entity with UUID {submitted.id} was created at the same moment by another submission."


def _uuid_or_none(value: str) -> str | None:
    try:
        return normalise_uuid(value)
    except EntityDataInvalid:
        return None


def _handled(db: Session, submission_id: int) -> set[str | None]:
    """The entities this submission already made a version of, or has waiting in the backlog."""
    made = db.scalars(select(Entity.uuid).join(EntityVersion, EntityVersion.entity_id == Entity.id)
                      .where(EntityVersion.submission_id == submission_id))
    return {*made, *(h.entity_uuid for h in backlog.held_of(db, submission_id))}


def _record_error(db: Session, submission_id: int, submission_def_id: int, source: Source, code: str,
                  message: str, entity_id: str | None = None) -> None:
    try:
        entity_uuid = normalise_uuid(entity_id) if entity_id else None
    except EntityDataInvalid:
        entity_uuid = None
    db.add(EntityError(submission_id=submission_id, submission_def_id=submission_def_id, actor_id=source.actor_id,
                       code=code, message=message, created_at=utcnow(), entity_uuid=entity_uuid))
    db.flush()


def _check_submitted(declaration: EntityDeclaration, submitted: SubmittedEntity) -> None:
    if not submitted.dataset:
        raise problems.MissingParameter("The submission's entity block names no Entity List.", details={"field": "dataset"})
    for action, wanted in (("create", submitted.create), ("update", submitted.update)):
        if wanted and action not in declaration.actions:
            raise problems.EntityActionNotPermitted(
                f"The submission attempts an entity {action}, but the form permits only "
                f"{', '.join(declaration.actions)}.", details={"action": action})


def _list_not_found(submitted: SubmittedEntity) -> problems.Problem:
    return problems.DatasetNotFound(f"The Entity List '{submitted.dataset}' named in the submission does not exist "
                                    "in this project.", details={"datasetName": submitted.dataset})


_STATEMENTS: dict[str, tuple] = {}
# A registration's Entity List (id, approvalRequired) by (project, name), remembered for a second as
# intake's other lookups are (server/models/recent.py); a change to a list empties it.
_recent_lists = Recent("entity lists", lambda: (Dataset,))


def _create_statements(dialect: str) -> tuple:
    """Built once per dialect, so SQLAlchemy reuses their compiled form on every registration. The
    version's INSERT also answers whether an offline update of the entity waits in the backlog (an
    update that arrived before this create), so that costs no statement of its own."""
    found = _STATEMENTS.get(dialect)
    if found is None:
        entities, versions = Entity.__table__, EntityVersion.__table__
        held = backlog.HeldEntity.__table__
        dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
        waiting = (select(held.c.id).where(held.c.entity_uuid == bindparam("probe_uuid")).limit(1)
                   .scalar_subquery())
        found = (select(Dataset.id, Dataset.approval_required)
                 .where(Dataset.project_id == bindparam("project_id"), Dataset.name == bindparam("name")),
                 dialect_insert(entities).on_conflict_do_nothing(index_elements=["uuid"]).returning(entities.c.id),
                 insert(versions).returning(waiting))
        _STATEMENTS[dialect] = found
    return found


def _list_for(conn, project_id: int, submitted: SubmittedEntity):
    """The registration's Entity List (id, approval_required), remembered for a second."""
    key = (project_id, submitted.dataset)
    found = _recent_lists.get(key)
    if found is None:
        found = conn.execute(_create_statements(conn.dialect.name)[0],
                             {"project_id": project_id, "name": submitted.dataset}).first()
        if found is None:
            raise _list_not_found(submitted)
        _recent_lists.put(key, found)
    return found


def _create_from_submission(db: Session, project_id: int, declaration: EntityDeclaration, submitted: SubmittedEntity,
                            source: Source) -> _Made | None:
    """A new submission that creates an entity (a registration, intake's common case): the same rules as
    `_apply` and `create_entity`, in three statements (one on PostgreSQL) and no savepoint. Everything is
    checked before the first write, and the UUID's uniqueness by the database (ON CONFLICT DO NOTHING), so
    a refusal leaves nothing to undo. bench/entities.py: half the CPU the ORM path cost per registration."""
    _check_submitted(declaration, submitted)
    conn = db.connection()
    _, insert_entity, insert_version = _create_statements(conn.dialect.name)
    found = _list_for(conn, project_id, submitted)
    uuid = normalise_uuid(submitted.id, "id")
    if found.approval_required:
        return None  # creation waits for the review `approved` (on_review)
    label = submitted.label
    if label is None or not label.strip():
        raise problems.MissingParameter("The entity has no label. Give it one (the entities sheet's label).",
                                        details={"field": "label"})
    branch_id, trunk = _branch_id(submitted), _int_or_none(submitted.trunk_version, "trunkVersion")
    data = dict(submitted.data)
    now = utcnow()
    user_agent = (source.user_agent or None) and source.user_agent[:255]
    if conn.dialect.name == "postgresql":  # one round trip: both rows and the backlog's answer
        entity_id, waiting = conn.exec_driver_sql(_PG_CREATE, {
            "uuid": uuid, "dataset_id": found.id, "creator_id": source.actor_id, "created_at": now, "label": label,
            "data": json.dumps(data), "data_received": json.dumps({"label": label, **data}),
            "submission_id": source.submission_id, "submission_def_id": source.submission_def_id,
            "branch_id": branch_id, "trunk_version": trunk, "user_agent": user_agent}).one()
        if entity_id is None:
            return _uuid_taken(db, found.id, uuid, submitted, data, source)
        return _Made(uuid, branch_id, None, created=True) if waiting is not None else None
    entity_id = conn.execute(insert_entity, {"uuid": uuid, "dataset_id": found.id, "version": 1,
                                             "creator_id": source.actor_id, "conflict": None, "created_at": now,
                                             "updated_at": None, "deleted_at": None}).scalar()
    if entity_id is None:
        return _uuid_taken(db, found.id, uuid, submitted, data, source)
    waiting = conn.execute(insert_version, {
        "entity_id": entity_id, "version": 1, "base_version": None, "current": True, "label": label, "data": data,
        "data_received": {"label": label, **data}, "conflicting_properties": None,
        "submission_id": source.submission_id, "submission_def_id": source.submission_def_id, "branch_id": branch_id,
        "trunk_version": trunk, "branch_base_version": None, "creator_id": source.actor_id,
        "user_agent": user_agent, "created_at": now, "forced": None, "create_as_update": None,
        "probe_uuid": uuid}).scalar()
    return _Made(uuid, branch_id, None, created=True) if waiting is not None else None


def _uuid_taken(db: Session, dataset_id: int, uuid: str, submitted: SubmittedEntity, data: dict,
                source: Source) -> _Made:
    """A registration whose UUID an entity already has: an update when an offline update forced through
    the backlog made that entity, else refused (409.3)."""
    dataset = db.get_one(Dataset, dataset_id)
    if _created_by_force(db, dataset, uuid):
        with db.begin_nested():
            return _create_as_update(db, dataset, uuid, submitted, data, source)
    raise problems.UniquenessViolation(f"An entity with UUID {uuid} already exists.",
                                       details={"fields": ["uuid"], "values": [uuid]})


# PostgreSQL: the entity and its first version in one statement, sent as driver SQL (psycopg prepares it
# after a few uses), the JSON as SQLAlchemy's JSON type writes it (json.dumps). It answers the entity's id
# (NULL: the UUID is taken, nothing was written) and whether an offline update waits for this create, as
# `_create_statements`' version INSERT does (the backlog is not written by this statement).
_PG_CREATE = """WITH entity AS (
  INSERT INTO entities (uuid, dataset_id, version, creator_id, conflict, created_at, updated_at, deleted_at)
  VALUES (%(uuid)s, %(dataset_id)s, 1, %(creator_id)s, NULL, %(created_at)s, NULL, NULL)
  ON CONFLICT (uuid) DO NOTHING RETURNING id
), version AS (
  INSERT INTO entity_versions (entity_id, version, base_version, current, label, data, data_received,
                               conflicting_properties, submission_id, submission_def_id, branch_id, trunk_version,
                               branch_base_version, creator_id, user_agent, created_at, forced, create_as_update)
  SELECT entity.id, 1, NULL, true, %(label)s, CAST(%(data)s AS json), CAST(%(data_received)s AS json), NULL,
         %(submission_id)s, %(submission_def_id)s, %(branch_id)s, %(trunk_version)s, NULL, %(creator_id)s,
         %(user_agent)s, %(created_at)s, NULL, NULL FROM entity
)
SELECT (SELECT id FROM entity),
       (SELECT id FROM entity_submission_backlog WHERE entity_uuid = %(uuid)s LIMIT 1)"""


# --- intake's shortcut (PostgreSQL): a registration written by the submission's own statement ----------

# The entity and its first version as two more data-modifying CTEs of intake's all-in-one INSERT
# (server/models/intake.py `_pg_create_all`), after its `def`; `entity_in_intake` checked the values.
# Its final SELECT adds INTAKE_ANSWERS: the entity's id (NULL: the UUID is taken) and the backlog's answer.
INTAKE_PARTS = """,
entity AS (
  INSERT INTO entities (uuid, dataset_id, version, creator_id, conflict, created_at, updated_at, deleted_at)
  SELECT %(e_uuid)s, %(e_dataset_id)s, 1, %(submitter_id)s, NULL, %(created_at)s, NULL, NULL FROM def
  ON CONFLICT (uuid) DO NOTHING RETURNING id
),
entity_version AS (
  INSERT INTO entity_versions (entity_id, version, base_version, current, label, data, data_received,
                               conflicting_properties, submission_id, submission_def_id, branch_id, trunk_version,
                               branch_base_version, creator_id, user_agent, created_at, forced, create_as_update)
  SELECT entity.id, 1, NULL, true, %(e_label)s, CAST(%(e_data)s AS json), CAST(%(e_data_received)s AS json), NULL,
         def.submission_id, def.id, NULL, %(e_trunk_version)s, NULL, %(submitter_id)s, %(user_agent)s,
         %(created_at)s, NULL, NULL FROM entity, def
)"""
INTAKE_ANSWERS = """(SELECT id FROM entity),
       (SELECT id FROM entity_submission_backlog WHERE entity_uuid = %(e_uuid)s LIMIT 1)"""


def entity_in_intake(db: Session, project_id: int, form_def_id: int, root, cache: object | None,
                     in_statement: bool) -> tuple[dict | None, bool]:
    """A new submission's entity blocks, read once for intake: (the values of its entity for intake's own
    INSERT to write, INTAKE_PARTS; whether a block is left for the general entity step after the insert).

    Intake's statement writes the simple case (`in_statement`: PostgreSQL): the form's one declaration
    outside any repeat, a create and nothing else, no offline branch, a list not requiring approval, every
    value as `_create_from_submission` accepts it. Any other block to create or update (an update, a
    roster, several lists, a branch, approval, anything refused) is left to the entity step, which uses
    the ORM (so intake's lean transaction gives way before writing, server/db.py) and records any refusal."""
    declarations = declaration_for(db, form_def_id, cache)
    if not declarations or root is None:
        return None, False
    if len(declarations) != 1 or declarations[0].repeat:
        return None, any(s.create or s.update for _, s in read_all_submitted(root, declarations))
    submitted = read_submitted(root, declarations[0])
    if submitted is None or not (submitted.create or submitted.update):
        return None, False
    values = _registration_values(db, project_id, declarations[0], submitted) if in_statement else None
    return values, values is None


def _registration_values(db: Session, project_id: int, declaration: EntityDeclaration,
                         submitted: SubmittedEntity) -> dict | None:
    if not submitted.create or submitted.update or submitted.branch_id:
        return None
    try:
        _check_submitted(declaration, submitted)
        found = _list_for(db.connection(), project_id, submitted)
        uuid = normalise_uuid(submitted.id, "id")
        label = submitted.label
        if found.approval_required or label is None or not label.strip():
            return None
        trunk = _int_or_none(submitted.trunk_version, "trunkVersion")
    except (problems.Problem, EntityDataInvalid):
        return None
    data = dict(submitted.data)
    return {"e_uuid": uuid, "e_dataset_id": found.id, "e_label": label, "e_data": json.dumps(data),
            "e_data_received": json.dumps({"label": label, **data}), "e_trunk_version": trunk}


def registered_in_intake(db: Session, uuid: str, waiting: bool, cache: object | None) -> None:
    """After intake's statement made the entity: release the offline update that arrived before this
    create, if one waits (and the chain after it), as `apply_submission` does for what it makes."""
    if waiting:
        _release_chain(db, _Made(uuid, None, None, created=True), cache)


def _apply(db: Session, project_id: int, declaration: EntityDeclaration, submitted: SubmittedEntity,
           source: Source, event: str, cache: object | None = None, index: int = 0, force: bool = False) -> _Made | None:
    """One entity block: update (Central tries it first), create, or both (upsert). `force`: a held
    update forced through the backlog, on top of the current version, or as a create when the entity
    does not exist (Central's forceOutOfOrderProcessing)."""
    _check_submitted(declaration, submitted)
    dataset = dataset_by_name(db, project_id, submitted.dataset)
    if dataset is None:
        raise _list_not_found(submitted)
    uuid = normalise_uuid(submitted.id, "id")
    data = dict(submitted.data)
    if submitted.update:
        if event == "approved":
            return None  # Central applies updates when they arrive, never again at review
        try:
            return _update(db, dataset, uuid, submitted, data, source, cache, index, force)
        except problems.Problem as exc:
            missing_base = exc.code == "400.2" and (exc.details or {}).get("field") == "baseVersion"
            if not ((submitted.create or force) and (exc.code == "404.8" or missing_base)):
                raise
    # Approval: creation waits for the review `approved`; without it, a review changes nothing.
    if dataset.approval_required != (event == "approved"):
        return None
    branch_id, trunk = _branch_id(submitted), _int_or_none(submitted.trunk_version, "trunkVersion")
    label = submitted.label
    if force and (label is None or not label.strip()):
        label = AUTO_LABEL
    branch_base = _int_or_none(submitted.base_version, "baseVersion") if force else None
    try:
        create_entity(db, dataset, uuid, label, data, source, (branch_id, trunk), branch_base, forced=force)
    except problems.Problem as exc:
        if exc.code == "409.3" and submitted.create and not force and _created_by_force(db, dataset, uuid):
            return _create_as_update(db, dataset, uuid, submitted, data, source)
        raise
    return _Made(uuid, branch_id, branch_base, created=True)


def _created_by_force(db: Session, dataset: Dataset, uuid: str) -> bool:
    """Whether the entity's first version came from an offline update forced through the backlog, so
    that its late create is applied as an update (Central: the root def's source `forceProcessed`)."""
    return bool(db.scalar(select(EntityVersion.forced).join(Entity, Entity.id == EntityVersion.entity_id)
                          .where(Entity.dataset_id == dataset.id, Entity.uuid == uuid, EntityVersion.version == 1)))


def _create_as_update(db: Session, dataset: Dataset, uuid: str, submitted: SubmittedEntity, data: dict,
                      source: Source) -> _Made:
    """A create that arrives after a forced update made its entity: a new version on top of the current
    one, always a conflict (hard where it sends a value the entity has otherwise)."""
    entity = entity_in(db, dataset, uuid, lock=True)
    if entity is None:
        raise problems.UniquenessViolation(f"An entity with UUID {uuid} already exists.",
                                           details={"fields": ["uuid"], "values": [uuid]})
    label = submitted.label
    if label is None or not label.strip():
        raise problems.MissingParameter("The entity has no label. Give it one (the entities sheet's label).",
                                        details={"field": "label"})
    branch_id, trunk = _branch_id(submitted), _int_or_none(submitted.trunk_version, "trunkVersion")
    branch_base = _int_or_none(submitted.base_version, "baseVersion") if branch_id else None
    current = current_version(db, entity)
    add_version(db, entity, current, current, label, data, source, (branch_id, trunk, branch_base),
                create_as_update=True)
    return _Made(uuid, branch_id, branch_base)


def _int_or_none(value: str, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise problems.Problem(f"The entity's {name} '{value}' is not an integer.", code="400.11",
                               details={"field": name})
    return int(value)


def _branch_id(submitted: SubmittedEntity) -> str | None:
    return normalise_uuid(submitted.branch_id, "branchId") if submitted.branch_id else None


def submitter_scope(db: Session, dataset: Dataset, source: Source, cache: object | None = None) -> EntityScope:
    """The entities a submission may update: those of its submitter's areas (server/auth/scope.py). A
    submitter limited to areas reaches no entity of a list without an area property (fail closed)."""
    from server.auth.scope import entity_scope
    from server.models.accounts import Actor

    actor = db.get(Actor, source.actor_id) if source.actor_id is not None else None
    return entity_scope(db, actor, dataset, cache, strict=False)


def _update(db: Session, dataset: Dataset, uuid: str, submitted: SubmittedEntity, data: dict, source: Source,
            cache: object | None = None, index: int = 0, force: bool = False) -> _Made | None:
    """Submitting is not limited by area, but updating is: an entity outside the submitter's areas is
    answered as an unknown one (an entity error; the submission is kept), so nothing changes there.

    An offline update (with a branchId) whose base is not on the server yet — the earlier update of
    its branch, or the entity's create, has not arrived — is held in the backlog (None is returned);
    forced, it goes on top of the current version, or raises 404.8 so that the caller creates it."""
    base_number = _int_or_none(submitted.base_version, "baseVersion")
    if base_number is None:
        raise problems.MissingParameter("The entity update has no baseVersion.", details={"field": "baseVersion"})
    trunk = _int_or_none(submitted.trunk_version, "trunkVersion")
    branch_id = _branch_id(submitted)
    if trunk is not None and branch_id is None:
        raise problems.MissingParameter("The entity update has a trunkVersion but no branchId.", details={"field": "branchId"})
    scope = submitter_scope(db, dataset, source, cache)
    entity = entity_in(db, dataset, uuid, lock=True, scope=scope)
    if entity is None:
        if entity_in(db, dataset, uuid, deleted=True, scope=scope) is not None:
            raise problems.EntityDeleted(f"The entity {uuid} has been deleted.", details={"entityUuid": uuid})
        if branch_id is not None and not force and db.scalar(select(Entity.id).where(Entity.uuid == uuid)) is None:
            _hold(db, dataset, uuid, branch_id, base_number, source, index)  # its offline create has not arrived
            return None
        raise problems.EntityNotFound(f"The entity {uuid} named in the submission does not exist in the Entity List "
                                      f"'{dataset.name}'.", details={"entityUuid": uuid, "datasetName": dataset.name})
    versions = versions_of(db, entity)
    current = versions[-1]
    if branch_id is None or base_number in (1, trunk):
        base = next((v for v in versions if v.version == base_number), None)
    else:  # the middle of an offline branch: the version this branch made from its previous base
        base = next((v for v in versions if v.branch_id == branch_id and v.branch_base_version == base_number - 1), None)
    if base is None and branch_id is not None:
        if not force:
            _hold(db, dataset, uuid, branch_id, base_number, source, index)
            return None
        base = current  # forced: on top of whatever the server has now
    if base is None:
        raise problems.EntityVersionNotFound(f"Base version {base_number} does not exist for entity {uuid} in the "
                                             f"Entity List '{dataset.name}'.",
                                             details={"baseVersion": base_number, "entityUuid": uuid})
    if trunk is not None and trunk > current.version:
        raise problems.EntityVersionNotFound(f"Trunk version {trunk} does not exist for entity {uuid}.",
                                             details={"baseVersion": f"trunkVersion={trunk}", "entityUuid": uuid})
    # An offline branch interrupted by a version from elsewhere after its trunk (or after the create
    # that began it) is a soft conflict (Central `_interruptedBranch`).
    interrupted = branch_id is not None and any(v.version > (trunk or 1) and v.branch_id != branch_id for v in versions)
    label = submitted.label if submitted.label and submitted.label.strip() else None
    add_version(db, entity, current, base, label, data, source,
                (branch_id, trunk, base_number if branch_id else None), interrupted, forced=force)
    return _Made(uuid, branch_id, base_number if branch_id else None)


def _hold(db: Session, dataset: Dataset, uuid: str, branch_id: str, base_number: int, source: Source,
          index: int) -> None:
    if source.submission_id is None or source.submission_def_id is None:  # only submissions are offline
        raise problems.EntityVersionNotFound(f"Base version {base_number} does not exist for entity {uuid}.",
                                             details={"baseVersion": base_number, "entityUuid": uuid})
    backlog.hold(db, submission_id=source.submission_id, submission_def_id=source.submission_def_id,
                 entity_index=index, dataset_id=dataset.id, entity_uuid=uuid, branch_id=branch_id,
                 branch_base_version=base_number, actor_id=source.actor_id)


# --- the backlog: releasing and forcing held updates ---------------------------------------------------

def _release_chain(db: Session, made: _Made | None, cache: object | None) -> None:
    """Apply the held update that follows what was just made, then the one after it, and so on (in the
    same transaction; a failure is recorded on the held submission, as an error at intake would be)."""
    while made is not None and made.may_release:
        held = backlog.next_in_branch(db, made.uuid, made.branch_id, (made.branch_base_version or 0) + 1)
        if held is None:
            return
        backlog.release(db, held, backlog.REPROCESS)
        made = _apply_held(db, held, cache, force=False)


def _apply_held(db: Session, held: backlog.HeldEntity, cache: object | None, force: bool) -> _Made | None:
    """Apply one held entity block of its submission (as it was when held). Nothing is done for a
    submission or form deleted meanwhile."""
    from server.models.forms import Form
    from server.models.submissions import Submission, SubmissionDef
    from server.xforms.safexml import parse

    sub, sdef = db.get(Submission, held.submission_id), db.get(SubmissionDef, held.submission_def_id)
    form = db.get(Form, sub.form_id) if sub is not None else None
    if sub is None or sdef is None or form is None or sub.deleted_at is not None or form.deleted_at is not None:
        return None
    blocks = read_all_submitted(parse(sdef.xml), declaration_for(db, sdef.form_def_id, cache))
    if held.entity_index >= len(blocks):
        return None
    declaration, submitted = blocks[held.entity_index]
    source = Source(held.actor_id, sdef.user_agent, sub.id, sdef.id)
    return _apply_one(db, form.project_id, held.entity_index, declaration, submitted, source,
                      "force" if force else "reprocess", cache, force=force)


def force_due(db: Session, cache: object | None = None, force: bool = False, days: float = backlog.DEFAULT_DAYS,
              limit: int | None = None, commit: bool = False) -> int:
    """Force through the held updates that have waited longer than `days` (all of them with `force`),
    oldest of each branch first, as Central's processBacklog: each on top of the entity's current
    version, or creating the entity whose offline create never arrived. `commit`: one transaction
    each (the CLI); at intake, the caller's. Returns how many were taken out of the backlog."""
    ids = backlog.due(db, force, days, limit)
    for held_id in ids:
        held = db.get(backlog.HeldEntity, held_id)
        if held is None:
            continue
        backlog.release(db, held, backlog.FORCE)
        _apply_held(db, held, cache, force=True)
        if commit:
            db.commit()
    return len(ids)


def on_review(db: Session, submission, state: str) -> None:
    """A submission approved after review creates its entity when its list requires approval."""
    if state != "approved":
        return
    from server.models.forms import Form
    from server.models.submissions import SubmissionDef
    from server.xforms.safexml import parse

    sdef = db.get(SubmissionDef, submission.current_def_id)
    if sdef is None or sdef.encrypted or not declaration_for(db, sdef.form_def_id):
        return
    form = db.get(Form, submission.form_id)
    if form is None:
        return
    apply_submission(db, form.project_id, sdef.form_def_id, parse(sdef.xml), submission.id, sdef.id,
                     Source(submission.submitter_id, sdef.user_agent, submission.id, sdef.id), event="approved")


# --- the register (the web pages) ------------------------------------------------------------------

@dataclass(frozen=True)
class RegisterFilter(EntityScope):
    """Which live entities of a list a register page shows: an EntityScope (the caller's areas, narrowed
    by the page's area filter) and the page's search and conflict filters."""

    search: str = ""
    conflict_only: bool = False


def area_property_of(db: Session, dataset: Dataset, cache: object | None = None) -> str | None:
    """The property holding a household's area code: the indicators workbook's `area_field` of a form
    writing the list, when the list has a property of that name, or the property that form saves from
    that field. None when no workbook names one: the list cannot be filtered or limited by area."""
    from server.models.forms import Form
    from server.models.indicators import indicator_set

    names = [p.name for p in properties_of(db, dataset.id)]
    forms = db.execute(select(Form.id, Form.current_def_id).join(DatasetForm, DatasetForm.form_id == Form.id)
                       .where(DatasetForm.dataset_id == dataset.id, DatasetForm.property_id.is_(None),
                              Form.deleted_at.is_(None)).order_by(Form.id))
    for form_id, def_id in forms:
        found = indicator_set(db, form_id)
        if found is None:
            continue
        field_name = found.definition.get("areaField") or ""
        if field_name in names:
            return field_name
        path = found.definition.get("areaPath") or ""
        declarations = declaration_for(db, def_id, cache) if def_id is not None else ()
        for prop in (p for d in declarations if d.dataset == dataset.name for p in d.properties):
            if "/".join(prop.path) == path and prop.name in names:
                return prop.name
    return None


def _current_join(stmt):
    return stmt.join(EntityVersion, (EntityVersion.entity_id == Entity.id) & (EntityVersion.version == Entity.version))


def _register_where(stmt, dataset: Dataset, wanted: RegisterFilter):
    stmt = stmt.where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None), wanted.clause(joined=True))
    if wanted.search:
        escaped = wanted.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(EntityVersion.label.ilike(f"%{escaped}%", escape="\\"))
    if wanted.conflict_only:
        stmt = stmt.where(Entity.conflict.is_not(None))
    return stmt


def register_count(db: Session, dataset: Dataset, wanted: RegisterFilter) -> int:
    stmt = _register_where(_current_join(select(func.count(Entity.id)).select_from(Entity)), dataset, wanted)
    return db.scalar(stmt) or 0


def register_page(db: Session, dataset: Dataset, wanted: RegisterFilter, limit: int,
                  offset: int) -> list[tuple[Entity, EntityVersion]]:
    """One page of the register: (entity, current version), the most recently changed first."""
    stmt = _register_where(_current_join(select(Entity, EntityVersion)), dataset, wanted)
    stmt = stmt.order_by(func.coalesce(Entity.updated_at, Entity.created_at).desc(), Entity.id.desc())
    return [(e, v) for e, v in db.execute(stmt.limit(limit).offset(offset))]


def version_sources(db: Session, versions: list[EntityVersion]) -> dict[int, tuple[str, str]]:
    """{submission id: (xmlFormId, instanceId)} of the live submissions that made these versions."""
    from server.models.forms import Form
    from server.models.submissions import Submission

    ids = {v.submission_id for v in versions if v.submission_id is not None}
    if not ids:
        return {}
    rows = db.execute(select(Submission.id, Form.xml_form_id, Submission.instance_id)
                      .join(Form, Form.id == Submission.form_id)
                      .where(Submission.id.in_(ids), Form.deleted_at.is_(None)))
    return {sid: (form_id, instance_id) for sid, form_id, instance_id in rows}


def property_writers(db: Session, dataset: Dataset) -> list[tuple[str, int]]:
    """(property name, published form version) for each live form saving to a property of the list."""
    from server.models.forms import Form

    return [(name, def_id) for name, def_id in db.execute(  # current_def_id IS NOT NULL: an int
        select(DatasetProperty.name, Form.current_def_id)
        .join(DatasetForm, DatasetForm.property_id == DatasetProperty.id)
        .join(Form, Form.id == DatasetForm.form_id)
        .where(DatasetForm.dataset_id == dataset.id, Form.deleted_at.is_(None), Form.current_def_id.is_not(None))
        .order_by(Form.id)) if def_id is not None]


def creators_of(db: Session, dataset: Dataset, scope: EntityScope = UNLIMITED) -> list:
    """The actors who created the list's live entities in scope, by name (Central's …/entities/creators)."""
    from server.models.accounts import Actor

    made = select(Entity.creator_id).where(Entity.dataset_id == dataset.id, Entity.deleted_at.is_(None),
                                           scope.clause()).distinct()
    return list(db.scalars(select(Actor).where(Actor.id.in_(made)).order_by(Actor.display_name, Actor.id)))
