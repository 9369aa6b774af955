"""A household's latest state: the updates of its entity laid over its survey answers.

The survey registers each household as an entity of an Entity List (version 1, made by the survey
submission); follow-up visits update that entity (versions 2, 3, …). Indicators, coverage and
follow-up lists count the household once, from its survey submission, with the answers its entity's
current version changes (docs/indicators.md, "A household's latest state"):

- an entity property named after a household question (`fixed_broadband`, `hh_ecommerce`, …)
  replaces that answer, unless it is blank;
- an entity property named after a roster question (`vneid_level2`, `bank_account`, …) lists the
  roster numbers (the workbook's `member_number_field`) of the members who have the thing: those
  members answer `yes`, the others keep their survey answers.

Only an entity updated since its creation (version > 1) changes anything, so a survey edited later
still counts as edited until a follow-up. Everything here is a query or whole-column work: no loop
over households."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Integer, and_, any_, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from server.models.datasets import DatasetForm
from server.models.entities import Entity, EntityVersion

YES = "yes"


def writes_entities(db: Session, form_id: int) -> bool:
    """Does a published version of the form create or update an Entity List?"""
    return db.scalar(select(DatasetForm.id).where(DatasetForm.form_id == form_id).limit(1)) is not None


def entity_fingerprint(db: Session, form_id: int) -> tuple[int, int | None]:
    """(count, largest id) of the entity updates (versions after the first) of the lists the form writes:
    it changes whenever a follow-up or the API updates one of their entities."""
    ev, e = EntityVersion.__table__, Entity.__table__
    datasets = select(DatasetForm.dataset_id).where(DatasetForm.form_id == form_id)
    count, largest = db.execute(select(func.count(ev.c.id), func.max(ev.c.id)).join(e, e.c.id == ev.c.entity_id)
                                .where(e.c.dataset_id.in_(datasets), ev.c.version > 1)).one()
    return int(count or 0), largest


def household_entity():
    """(first version, entity) aliases to outer-join to submissions `s`: the entity each household created."""
    first = EntityVersion.__table__.alias("hh_first")
    entity = Entity.__table__.alias("hh_entity")
    return first, entity


def join_entities(from_, s, first, entity):
    """`from_` outer-joined to each submission's entity (none for households that created none)."""
    return (from_.outerjoin(first, and_(first.c.submission_id == s.c.id, first.c.version == 1))
            .outerjoin(entity, entity.c.id == first.c.entity_id))


def entity_version_of(entity):
    """The entity's current version number, 0 when the household has no entity."""
    return func.coalesce(entity.c.version, literal(0))


def updated_since(max_update: int | None):
    """The ids of the households whose entity was updated by an entity version newer than `max_update`."""
    first = EntityVersion.__table__.alias("hh_first_u")
    later = EntityVersion.__table__.alias("hh_later")
    return (select(first.c.submission_id).join(later, later.c.entity_id == first.c.entity_id)
            .where(first.c.version == 1, first.c.submission_id.is_not(None), later.c.id > (max_update or 0)))


def ids_clause(column, ids: np.ndarray, dialect: str):
    """`column` among `ids` (sorted): a range when they are dense (a first computation; the caller then
    drops the rows in between), else one array parameter (PostgreSQL) or IN. Never thousands of bound
    parameters on PostgreSQL: rendering and parsing them cost more than the query."""
    lo, hi = int(ids[0]), int(ids[-1])
    if hi - lo + 1 <= 2 * len(ids):
        return and_(column >= lo, column <= hi), True
    values = [int(i) for i in ids]
    if dialect == "postgresql":
        return column == any_(bindparam("ids", values, type_=ARRAY(Integer))), False
    return column.in_(values), False


def latest_properties(conn, ids, names: list[str]) -> pd.DataFrame:
    """For the households `ids` that created an entity: `submission_id`, `entity_version` and the current
    version's properties `names` (None when absent), read from the JSON by the database."""
    wanted = np.unique(np.asarray(ids, dtype=np.int64))
    columns = ["submission_id", "entity_version", *names]
    if not len(wanted):
        return pd.DataFrame(columns=columns)
    first, entity = household_entity()
    current = EntityVersion.__table__.alias("hh_current")
    data = current.c.data
    among, dense = ids_clause(first.c.submission_id, wanted, conn.dialect.name)
    stmt = (select(first.c.submission_id, entity.c.version.label("entity_version"),
                   *[data[n].as_string().label(f"p:{n}") for n in names])
            .join(entity, entity.c.id == first.c.entity_id)
            .join(current, and_(current.c.entity_id == entity.c.id, current.c.version == entity.c.version))
            .where(first.c.version == 1, among))
    result = conn.execute(stmt)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    frame = frame.rename(columns={f"p:{n}": n for n in names})
    if dense and len(frame):
        frame = frame[frame["submission_id"].isin(wanted)].reset_index(drop=True)
    return frame


def property_names(paths) -> list[str]:
    """The entity properties that may override the fields `paths`: each field's own name."""
    return sorted({p.rsplit("/", 1)[-1] for p in paths})


def apply_to_households(households: pd.DataFrame, latest: pd.DataFrame, paths) -> pd.DataFrame:
    """`households` (submission_id and field-path columns) with the household answers their entity
    replaced (see the module doc)."""
    updated = latest[latest["entity_version"] > 1].set_index("submission_id") if len(latest) else latest
    if households.empty or updated.empty:
        return households
    out = households.copy()
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if path not in out.columns or name not in updated.columns:
            continue
        value = out["submission_id"].map(updated[name]).to_numpy(dtype=object)
        given = pd.notna(value) & (value != "")
        if given.any():
            out[path] = np.where(given, value, out[path].to_numpy(dtype=object))
    return out


def apply_to_roster(unit: pd.DataFrame, latest: pd.DataFrame, paths, member_path: str | None) -> pd.DataFrame:
    """A roster frame (submission_id, the member number at `member_path`, field-path columns) with the
    members listed in their household's entity property answering `yes` (see the module doc)."""
    if unit.empty or not len(latest) or not member_path or member_path not in unit.columns:
        return unit
    updated = latest[latest["entity_version"] > 1]
    if updated.empty:
        return unit
    out = unit.copy()
    numbers = out[member_path].astype(object).where(out[member_path].notna(), "").astype(str).str.strip()
    keys = out["submission_id"].astype(np.int64).astype(str) + ":" + numbers
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        if path not in out.columns or name not in updated.columns:
            continue
        lists = updated[["submission_id", name]].dropna()
        members = lists[name].astype(str).str.split().explode().dropna()
        if members.empty:
            continue
        owners = lists["submission_id"].astype(np.int64).astype(str).loc[members.index].to_numpy()
        listed = set(map(":".join, zip(owners, members.to_numpy())))
        hit = keys.isin(listed).to_numpy()
        if hit.any():
            out[path] = np.where(hit, YES, out[path].to_numpy(dtype=object))
    return out
