"""The contribution store: each household's contribution to every indicator, and their sums per area.

Derived from a form's submissions and its indicators workbook (server/models/indicators.py). Two
tables per form, made on first use and dropped when a new workbook arrives:

- `ic{form}`: one row per household, with the submission version it was computed from, the workbook
  generation, its area code, its `state` (1 counted, 2 rejected, 0 deleted or draft) and, for every
  indicator, the numerator and denominator it adds (`n{k}`, `d{k}`, k = the indicator's position).
- `ia{form}`: per area code and state, the number of households and the sums of their `n{k}`,
  `d{k}`: always exactly the sums of `ic{form}`'s rows, because both change together, in the same
  transaction, by deltas (the old row subtracted, the new one added).

A refresh finds the households whose stored row is missing or out of date (another version, another
generation, another state) with one anti-join, computes only those, in chunks of CHUNK households
(bounded memory; each chunk committed on its own, so SQLite's writers — intake — wait at most one
chunk), and applies their deltas. A report then reads `ia{form}` (a row per area, not per
household): a new submission shows in the next report at the cost of one household, not all.

Concurrency: every chunk is written under a per-form lock (PostgreSQL: `SELECT … FOR UPDATE` of the
form's indicator_sets row; SQLite: the database's write lock, taken first) and re-checked under it,
so two workers refreshing at once never apply a delta twice, and a household edited while its
chunk was being computed is left for the next refresh.

On PostgreSQL `ic{form}` is made without its foreign key to submissions, which is added (one check of
every row, `NOT VALID` then `VALIDATE`, so intake is not blocked meanwhile) once the refresh that wrote
its rows is done: checked row by row it cost as much as writing the rows."""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    case,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from server.indicators import in_database, latest
from server.indicators.engine import contributions, needed_fields
from server.indicators.workbook import Workbook
from server.models.form_data import data_tables
from server.models.indicators import IndicatorSet
from server.models.submissions import Submission

log = logging.getLogger("hamlet.indicators")

NOT_COUNTED, COUNTED, REJECTED = 0, 1, 2
CHUNK = 20_000
# How long adding ic{form}'s foreign key may wait for its lock on submissions before leaving it to the next
# refresh (_constrain).
CONSTRAIN_LOCK_TIMEOUT = "2s"
# From how many households a first computation is done by the database (_fill_in_database); below, one
# or two chunks of the Python path are as quick.
IN_DATABASE_FROM = 2_000


def counted_states(include_rejected: bool) -> list[int]:
    """The states of the households a report counts: rejected ones only when asked for."""
    return [COUNTED, REJECTED] if include_rejected else [COUNTED]


# --- the two derived tables -----------------------------------------------------------------------------

def _table_name(form_id: int) -> str:
    return f"ic{form_id}"


def _sums_name(form_id: int) -> str:
    return f"ia{form_id}"


def _measures(count: int) -> list[str]:
    return [f"{x}{k}" for k in range(count) for x in ("n", "d")]


def contributions_table(form_id: int, count: int) -> Table:
    """`ic{form}` for a workbook of `count` indicators: what progress and follow-up lists read."""
    md = MetaData()
    Table("submissions", md, Column("id", Integer, primary_key=True))
    cols: list[Column] = [Column("submission_id", Integer, ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True,
                   autoincrement=False),
            Column("def_id", Integer, nullable=False), Column("generation", Integer, nullable=False),
            Column("area_code", String(64), nullable=False, index=True),
            Column("state", SmallInteger, nullable=False),
            # the household's entity version its latest state was read at (0: no entity; latest.py)
            Column("entity_version", Integer, nullable=False)]
    cols += [Column(m, Integer, nullable=False) for m in _measures(count)]
    return Table(_table_name(form_id), md, *cols)


def _sums_table(form_id: int, count: int) -> Table:
    cols: list[Column] = [Column("area_code", String(64), primary_key=True), Column("state", SmallInteger, primary_key=True),
            Column("households", Integer, nullable=False)]
    cols += [Column(m, Integer, nullable=False) for m in _measures(count)]
    return Table(_sums_name(form_id), MetaData(), *cols)


def _baseline_table(form_id: int) -> Table:
    """One row: the workbook generation and data version the other two were last known up to date at."""
    return Table(f"ib{form_id}", MetaData(), Column("id", Integer, primary_key=True, autoincrement=False),
                 Column("generation", Integer, nullable=False), Column("version", Text, nullable=False),
                 Column("full_check_at", Float, nullable=False))


def drop_contributions(db: Session, form_id: int) -> None:
    """Drop the form's three tables (a new workbook: other indicators, other columns)."""
    conn = db.connection()
    have = inspect(conn)
    for name in (f"ib{form_id}", _sums_name(form_id), _table_name(form_id)):
        if have.has_table(name):
            conn.exec_driver_sql(f"DROP TABLE {name}")
    _baselines.pop(form_id, None)


def _ensure_tables(db: Session, form_id: int, count: int) -> tuple[Table, Table]:
    """The three tables, made together; any missing, or an `ic` table of an earlier layout, and all three are
    made again (they are derived data: the next refresh computes every household)."""
    ic, ia, ib = contributions_table(form_id, count), _sums_table(form_id, count), _baseline_table(form_id)
    conn = db.connection()
    have = inspect(conn)
    if have.has_table(ic.name) and have.has_table(ia.name) and have.has_table(ib.name) and \
            {c["name"] for c in have.get_columns(ic.name)} == {c.name for c in ic.columns}:
        return ic, ia
    for name in (ib.name, ia.name, ic.name):
        if have.has_table(name):
            conn.exec_driver_sql(f"DROP TABLE {name}")
    if conn.dialect.name == "postgresql":
        # Without its foreign key until the first computation is written (_constrain): PostgreSQL checks a
        # foreign key row by row, which cost as much as writing the rows.
        # UNLOGGED: derived data, rebuilt when missing, so not written twice (to the write-ahead log too). A
        # crash of the database, or a standby promoted, leaves the three tables empty: no stored baseline,
        # so the next refresh checks every household (refresh_if_changed) and, `ic` being empty, computes
        # them all again as after a new workbook.
        for t in (ic, ia, ib):
            _unlogged(t).create(conn)
    else:
        ic.create(conn)
        ia.create(conn)
        ib.create(conn)
    db.commit()
    _baselines.pop(form_id, None)
    return ic, ia


def _unlogged(t: Table) -> Table:
    """`t` UNLOGGED and without foreign keys (`ic`'s to submissions)."""
    return Table(t.name, MetaData(), *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                                              index=c.index, autoincrement=False) for c in t.columns],
                 prefixes=["UNLOGGED"])


_HAS_FOREIGN_KEY = text("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(:t) AND contype = 'f')")
_TABLE_EXISTS = text("SELECT to_regclass(:t) IS NOT NULL")


def _constrain(db: Session, form_id: int, ic: Table) -> None:
    """PostgreSQL: give `ic` its foreign key once its rows are written (one check of all rows, not one per
    row). Every refresh asks one catalog question (has it one?); the first adds it `NOT VALID` under the
    form's lock and commits at once — that ALTER takes SHARE ROW EXCLUSIVE on submissions, which blocks
    intake, so it is held for no more than the ALTER and, with a lock timeout, never queued behind a long
    transaction (the next refresh tries again) — then checks the rows with `VALIDATE CONSTRAINT`, which
    takes only SHARE UPDATE EXCLUSIVE on `ic` and ROW SHARE on submissions: intake goes on meanwhile.
    Rows of submissions deleted before the constraint existed make VALIDATE fail; they are then dropped and
    it runs again (the sums are made right by _reconcile or, after an incremental refresh, by the full check
    it falls back to)."""
    conn = db.connection()
    if conn.dialect.name != "postgresql" or conn.execute(_HAS_FOREIGN_KEY, {"t": ic.name}).scalar():
        return
    _lock(db, form_id)
    conn = db.connection()
    # under the lock: not dropped for a new workbook, nor constrained by another worker meanwhile
    if not conn.execute(_TABLE_EXISTS, {"t": ic.name}).scalar() or \
            conn.execute(_HAS_FOREIGN_KEY, {"t": ic.name}).scalar():
        db.commit()
        return
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{CONSTRAIN_LOCK_TIMEOUT}'")
    try:
        conn.exec_driver_sql(f"ALTER TABLE {ic.name} ADD CONSTRAINT {ic.name}_submission_id_fkey FOREIGN KEY "
                             "(submission_id) REFERENCES submissions (id) ON DELETE CASCADE NOT VALID")
    except OperationalError as e:
        if getattr(e.orig, "sqlstate", None) != "55P03":   # lock_not_available: leave it to the next refresh
            raise
        db.rollback()
        return
    db.commit()
    # Deletions from now on cascade, so the only rows without a submission are those whose submission was
    # deleted before: VALIDATE finds them (it reads every row, as looking for them first would: that was
    # twice the work, for rows that are nearly always none), and only then are they dropped.
    validate = f"ALTER TABLE {ic.name} VALIDATE CONSTRAINT {ic.name}_submission_id_fkey"
    try:
        db.connection().exec_driver_sql(validate)
    except IntegrityError as e:
        if getattr(e.orig, "sqlstate", None) != "23503":   # foreign_key_violation
            raise
        db.rollback()
        _lock(db, form_id)
        # A new workbook meanwhile replaced the table (its new one has no foreign key until its rows are written)
        # or dropped it: nothing of ours to validate.
        if not db.connection().execute(_HAS_FOREIGN_KEY, {"t": ic.name}).scalar():
            db.commit()
            return
        s = Submission.__table__
        db.connection().execute(ic.delete().where(~select(s.c.id).where(s.c.id == ic.c.submission_id).exists()))
        db.commit()
        db.connection().exec_driver_sql(validate)
    db.commit()


def _state(s):
    """What a submission's contribution counts as now (see the module doc)."""
    return case((or_(s.c.deleted_at.is_not(None), s.c.draft.is_(True)), literal(NOT_COUNTED)),
                (s.c.review_state == "rejected", literal(REJECTED)), else_=literal(COUNTED))


# _state over submissions aliased `s`, as SQL text (server/indicators/in_database.py)
_STATE_SQL = (f"(CASE WHEN s.deleted_at IS NOT NULL OR s.draft THEN {NOT_COUNTED} "
              f"WHEN s.review_state = 'rejected' THEN {REJECTED} ELSE {COUNTED} END)")


def _is_stale(s, ic, generation: int):
    """Missing (drafts aside: deleted households get a row too, under state 0), or computed from another
    version, generation or state."""
    return or_(and_(ic.c.submission_id.is_(None), s.c.draft.is_(False)),
               and_(ic.c.submission_id.is_not(None),
                    or_(ic.c.def_id != s.c.current_def_id, ic.c.generation != generation, ic.c.state != _state(s))))


def _stale_rows(s, ic, generation: int, entities: bool):
    """(submissions outer-joined to `ic`, the staleness condition, the household's entity version now).
    For a form that writes an Entity List a household is also stale when its entity changed since its
    row was computed (a follow-up visit: server/indicators/latest.py)."""
    joined = s.outerjoin(ic, ic.c.submission_id == s.c.id)
    stale = _is_stale(s, ic, generation)
    if not entities:
        return joined, stale, literal(0)
    first, entity = latest.household_entity()
    version = latest.entity_version_of(entity)
    return (latest.join_entities(joined, s, first, entity),
            or_(stale, and_(ic.c.submission_id.is_not(None), ic.c.entity_version != version)), version)


def _frame(conn, stmt) -> pd.DataFrame:
    """A query's rows as a frame, built column by column: answers stay Python strings (object columns, as
    the expressions expect them) and no per-row work happens in pandas."""
    result = conn.execute(stmt)
    keys = list(result.keys())
    rows = result.cursor.fetchall()   # plain tuples from the driver: no Row objects for 100,000s of rows
    result.close()
    table = np.empty((len(rows), len(keys)), dtype=object)
    if rows:
        table[:] = rows
    return pd.DataFrame({k: _column(table[:, i]) for i, k in enumerate(keys)}, columns=keys)


def _column(values: np.ndarray) -> np.ndarray:
    """Whole numbers (ids, counts) as int64, anything else (answers: text or None) as objects."""
    if len(values) and type(values[0]) is int:
        try:
            return values.astype(np.int64)
        except (TypeError, ValueError):
            pass
    return values.copy()


# --- what changed ------------------------------------------------------------------------------------------

class DataVersion(NamedTuple):
    """A fingerprint of a form's submissions, from one scan: it changes whenever one is added (count, largest
    id, latest created_at — ids can come back on SQLite once rows are deleted), edited or reviewed
    (updated_at), deleted or restored (count and latest of deleted_at)."""

    total: int
    drafts: int
    deleted: int
    rejected: int                # not deleted
    max_id: int | None
    max_created: datetime | None
    max_updated: datetime | None
    max_deleted: datetime | None
    entity_updates: int = 0              # updates of the entities its households created (latest.py)
    max_entity_update: int | None = None

    def per_state(self) -> dict[int, int] | None:
        """Households per state, as `ia{form}` counts them (None when drafts make it ambiguous)."""
        if self.drafts:
            return None
        return {k: v for k, v in {NOT_COUNTED: self.deleted, REJECTED: self.rejected,
                                  COUNTED: self.total - self.deleted - self.rejected}.items() if v}

    def to_json(self) -> str:
        return json.dumps([*self[:5], *(t.isoformat() if t else None for t in self[5:8]), *self[8:]])

    @classmethod
    def from_json(cls, text: str) -> DataVersion:
        v = json.loads(text)
        return cls(*v[:5], *(datetime.fromisoformat(t) if t else None for t in v[5:8]), *v[8:])


def data_version(db: Session, form_id: int) -> DataVersion:
    s = Submission.__table__
    row = db.execute(select(func.count(), func.count().filter(s.c.draft.is_(True)), func.count(s.c.deleted_at),
                            func.count().filter(and_(s.c.review_state == "rejected", s.c.deleted_at.is_(None))),
                            func.max(s.c.id), func.max(s.c.created_at), func.max(s.c.updated_at),
                            func.max(s.c.deleted_at))
                     .where(s.c.form_id == form_id)).one()
    total, drafts, deleted, rejected, max_id, max_created, max_updated, max_deleted = row
    updates, max_update = latest.entity_fingerprint(db, form_id) if latest.writes_entities(db, form_id) else (0, None)
    return DataVersion(int(total or 0), int(drafts or 0), int(deleted or 0), int(rejected or 0), max_id, max_created,
                       max_updated, max_deleted, updates, max_update)


# --- refresh ------------------------------------------------------------------------------------------------

# How late a commit may land after the time it stamped (updated_at, deleted_at) and still be found by the
# incremental search; and how often every household is checked anyway.
MARGIN = timedelta(minutes=10)
FULL_CHECK_SECONDS = 1800.0


class _Baseline(NamedTuple):
    generation: int
    version: DataVersion
    full_check_at: float         # epoch seconds


# form id -> the data version the derived tables were last brought up to date at, as this process knows it;
# the same is kept in ib{form} for every process (a new one, another worker).
_baselines: dict[int, _Baseline] = {}
_baselines_lock = threading.Lock()


def refresh_if_changed(db: Session, form_id: int, workbook: Workbook, generation: int, version: DataVersion) -> int:
    """Bring the derived tables up to date with `version` (the form's data_version, just read); returns how
    many households were computed.

    The baseline is the data version at which the tables were last known up to date (this process's, else
    the one stored in ib{form}). At the baseline's version there is nothing to do. Otherwise, with a baseline
    whose last full check is recent, only the candidates are looked at: submissions newer than the
    baseline's largest id and, when the fingerprint says something was edited, reviewed or deleted, those
    stamped since the baseline less MARGIN. The sums' households per state must then equal the
    fingerprint's (or the submissions', counted again); if not (a restore, a commit that landed out of
    order), or with no baseline, every household is checked with one anti-join."""
    base = _baselines.get(form_id)
    if db.connection().dialect.name == "postgresql":
        # The tables are UNLOGGED there (_ensure_tables): a crash of the database empties all three, and only
        # the stored baseline (gone with them) tells this process so; one read of a one-row table.
        base = _stored_baseline(db, form_id, generation)
    elif base is None or base.generation != generation or base.version != version:
        base = _stored_baseline(db, form_id, generation) or base
    if base is not None and base.generation == generation and base.version == version:
        _remember(form_id, base)
        return 0
    done, full_at = None, time.time()
    if base is not None and base.generation == generation and full_at - base.full_check_at < FULL_CHECK_SECONDS:
        done = _refresh_since(db, form_id, workbook, generation, since=base.version, now=version)
        full_at = base.full_check_at
    if done is None:
        done = _refresh_all(db, form_id, workbook, generation)
    _store_baseline(db, form_id, _Baseline(generation, version, full_at))
    return done


def _remember(form_id: int, base: _Baseline) -> None:
    with _baselines_lock:
        _baselines[form_id] = base


def _stored_baseline(db: Session, form_id: int, generation: int) -> _Baseline | None:
    ib = _baseline_table(form_id)
    try:
        row = db.execute(select(ib.c.generation, ib.c.version, ib.c.full_check_at)).first()
    except DBAPIError:       # not made yet (no report since the workbook was uploaded)
        db.rollback()
        return None
    db.commit()
    if row is None or row[0] != generation:
        return None
    return _Baseline(row[0], DataVersion.from_json(row[1]), row[2])


def _store_baseline(db: Session, form_id: int, base: _Baseline) -> None:
    ib = _baseline_table(form_id)
    db.execute(ib.delete())
    db.execute(ib.insert().values(id=1, generation=base.generation, version=base.version.to_json(),
                                  full_check_at=base.full_check_at))
    db.commit()
    _remember(form_id, base)


def _refresh_all(db: Session, form_id: int, workbook: Workbook, generation: int) -> int:
    """The full check: every household looked at with one anti-join, then the sums reconciled."""
    count = len(workbook.indicators)
    ic, ia = _ensure_tables(db, form_id, count)
    s = Submission.__table__
    done, every = _fill_in_database(db, form_id, workbook, generation, ic, ia, count)
    if not every:
        done += _process_stale(db, form_id, workbook, generation, ic, ia, count, [s.c.form_id == form_id])
    _constrain(db, form_id, ic)
    _reconcile(db, form_id, ic, ia, count)
    return done


def _fill_in_database(db: Session, form_id: int, workbook: Workbook, generation: int, ic: Table, ia: Table,
                      count: int) -> tuple[int, bool]:
    """PostgreSQL, the first computation of at least IN_DATABASE_FROM households: every household the
    database can compute, by one statement under the form's lock (server/indicators/in_database.py), the
    indicators it cannot compile by the Python evaluator for the same households, the sums from the rows.
    Returns how many households it wrote, and whether that was every household of the form (counted just
    before, in the same transaction): then none is left due and the caller skips looking for them (a
    change committed meanwhile moves the data version, and the next refresh finds it). Those it left out
    stay due for the ordinary path."""
    conn = db.connection()
    if conn.dialect.name != "postgresql":
        return 0, False
    entities = latest.writes_entities(db, form_id)
    tables = data_tables(db, form_id)
    found = in_database.plan(tables, workbook, form_id, generation, entities, ic.name, _STATE_SQL)
    if found is None or _lock(db, form_id) != generation:
        db.commit()
        return 0, False
    conn = db.connection()
    s = Submission.__table__
    households = 0
    if conn.execute(select(ic.c.submission_id).limit(1)).first() is None:
        households = conn.execute(select(func.count()).where(s.c.form_id == form_id, s.c.draft.is_(False))).scalar() or 0
    if households < IN_DATABASE_FROM:
        db.commit()
        return 0, False
    # One hash aggregate over every roster row: in memory rather than spilled (4 MB by default); no JIT, whose
    # compilation of this many expressions costs more than it saves.
    conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    conn.exec_driver_sql("SET LOCAL jit = off")
    # The table is empty: its two indexes are built once after the rows, not updated row by row (a third of
    # the statement's time). Their names are those contributions_table gives them.
    # A statement the database refuses (what the Python path would refuse too, or a form this code did not
    # foresee) leaves every household to that path rather than failing the report.
    conn.exec_driver_sql("SAVEPOINT in_database")
    try:
        written = _write_in_database(db, tables, workbook, ic, ia, count, found)
    except DBAPIError:
        log.exception("indicators of form %s: computing in the database failed; computing in Python", form_id)
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT in_database")
        written = 0
    db.commit()
    return written, written == households


def _write_in_database(db: Session, tables, workbook: Workbook, ic: Table, ia: Table, count: int,
                       found: in_database.Plan) -> int:
    """The statement's rows (into the empty `ic`, its indexes built after them), the indicators it left to
    the Python evaluator, and the sums from the rows."""
    conn = db.connection()
    conn.exec_driver_sql(f"ALTER TABLE {ic.name} DROP CONSTRAINT {ic.name}_pkey")
    conn.exec_driver_sql(f"DROP INDEX ix_{ic.name}_area_code")
    written = conn.exec_driver_sql(found.sql, found.params).rowcount
    conn.exec_driver_sql(f"ALTER TABLE {ic.name} ADD CONSTRAINT {ic.name}_pkey PRIMARY KEY (submission_id)")
    conn.exec_driver_sql(f"CREATE INDEX ix_{ic.name}_area_code ON {ic.name} (area_code)")
    if found.python and written:
        _python_measures(db, tables, workbook, ic, found.python)
    _sums_from_rows(db, ic, ia, count)
    return written


def _sums_from_rows(db: Session, ic: Table, ia: Table, count: int) -> None:
    """`ia` rebuilt from `ic`: the households and each measure's sum per area and state."""
    measures = _measures(count)
    conn = db.connection()
    conn.execute(ia.delete())
    conn.execute(ia.insert().from_select(
        ["area_code", "state", "households", *measures],
        select(ic.c.area_code, ic.c.state, func.count(), *[func.sum(ic.c[m]) for m in measures])
        .group_by(ic.c.area_code, ic.c.state)))


def _python_measures(db: Session, tables, workbook: Workbook, ic: Table, positions: list[int]) -> None:
    """The indicators at `positions` (0 so far) for every household in `ic`, by the Python evaluator, in
    the caller's transaction. These households' entities are at their first version at most: their
    answers are their latest state."""
    conn = db.connection()
    ids, defs = _pairs(conn.execute(select(ic.c.submission_id, ic.c.def_id)))
    part = Workbook(workbook.area_field, workbook.area_path, [workbook.indicators[k] for k in positions], [],
                    workbook.contacts)
    names = [f"{x}{k}" for k in positions for x in ("n", "d")]
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE ic_python (submission_id integer PRIMARY KEY, "
                         f"{', '.join(n + ' integer' for n in names)}) ON COMMIT DROP")
    scratch = Table("ic_python", MetaData(), Column("submission_id", Integer), *[Column(n, Integer) for n in names])
    order = np.argsort(ids, kind="stable")
    ids, defs = ids[order], defs[order]
    for start in range(0, len(ids), CHUNK):
        frame = _compute(conn, tables, part, ids[start:start + CHUNK], defs[start:start + CHUNK])
        frame = frame.rename(columns={f"{x}{j}": f"{x}{k}" for j, k in enumerate(positions) for x in ("n", "d")})
        _insert(conn, scratch, frame[["submission_id", *names]])
    conn.exec_driver_sql(f"UPDATE {ic.name} SET {', '.join(f'{n} = p.{n}' for n in names)} FROM ic_python p "
                         f"WHERE {ic.name}.submission_id = p.submission_id")


def _refresh_since(db: Session, form_id: int, workbook: Workbook, generation: int, since: DataVersion,
                   now: DataVersion) -> int | None:
    """Only the candidates changed between the data versions `since` and `now`; None when the sums then
    disagree with `now` (the caller falls back to the full check)."""
    count = len(workbook.indicators)
    ic, ia = _ensure_tables(db, form_id, count)
    s = Submission.__table__
    where = [s.c.form_id == form_id]
    found = [s.c.id > (since.max_id or 0)]
    entities_changed = (now.entity_updates, now.max_entity_update) != (since.entity_updates, since.max_entity_update)
    if entities_changed:   # follow-up visits: the households whose entity they updated
        found.append(s.c.id.in_(latest.updated_since(since.max_entity_update)))
    if (now.max_updated, now.deleted, now.rejected, now.max_deleted) != \
            (since.max_updated, since.deleted, since.rejected, since.max_deleted):
        stamps = [t for t in (since.max_updated, since.max_deleted) if t is not None]
        if stamps:
            t = max(stamps) - MARGIN
            found += [s.c.updated_at >= t, s.c.deleted_at >= t]
        else:
            found += [s.c.updated_at.is_not(None), s.c.deleted_at.is_not(None)]
    elif not entities_changed:
        # Only new submissions: a range of the primary key. `form_id + 0` keeps SQLite from walking the
        # (form_id, created_at) index over every submission of the form instead.
        where[0] = (s.c.form_id + 0) == form_id
    where.append(or_(*found))
    done = _process_stale(db, form_id, workbook, generation, ic, ia, count, where)
    _constrain(db, form_id, ic)
    return done if _consistent(db, form_id, ic, ia, now) else None


def _process_stale(db: Session, form_id: int, workbook: Workbook, generation: int, ic: Table, ia: Table,
                   count: int, where: list) -> int:
    """Compute and write the stale households among those `where` selects (conditions on submissions)."""
    s = Submission.__table__
    joined, stale, _ = _stale_rows(s, ic, generation, latest.writes_entities(db, form_id))
    ids, defs = _pairs(db.connection().execute(select(s.c.id, s.c.current_def_id).select_from(joined)
                                               .where(*where, stale)))
    db.commit()   # no snapshot or lock held while computing
    return _process(db, form_id, workbook, generation, ic, ia, count, ids, defs)


def _pairs(result) -> tuple[np.ndarray, np.ndarray]:
    """(submission ids, current versions) of a query's rows, fetched in batches into two int arrays."""
    ids, defs = [], []
    cursor = result.cursor
    while batch := cursor.fetchmany(50_000):
        ids.append(np.fromiter((r[0] for r in batch), dtype=np.int64, count=len(batch)))
        defs.append(np.fromiter((r[1] or 0 for r in batch), dtype=np.int64, count=len(batch)))
    result.close()
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(ids), np.concatenate(defs)


def _process(db: Session, form_id: int, workbook: Workbook, generation: int, ic: Table, ia: Table, count: int,
             ids: np.ndarray, defs: np.ndarray) -> int:
    """Compute and write the households `ids` (at versions `defs`), CHUNK at a time, in id order."""
    if not len(ids):
        return 0
    order = np.argsort(ids, kind="stable")
    ids, defs = ids[order], defs[order]
    tables = data_tables(db, form_id)
    entities = latest.writes_entities(db, form_id)
    done = 0
    for start in range(0, len(ids), CHUNK):
        frame = _compute(db.connection(), tables, workbook, ids[start:start + CHUNK], defs[start:start + CHUNK],
                         entities)
        db.commit()
        written = _apply(db, form_id, ic, ia, count, generation, frame)
        db.commit()
        if written is None:   # a new workbook meanwhile: its generation will compute everything
            break
        done += written
    return done


def _consistent(db: Session, form_id: int, ic: Table, ia: Table, now: DataVersion) -> bool:
    """Do the sums count, per state, the households the fingerprint counts? If not (changes landed since the
    fingerprint was read), compare them with the submissions themselves."""
    totals = _state_totals(db.execute(select(ia.c.state, func.sum(ia.c.households)).group_by(ia.c.state)).all())
    db.commit()
    return totals == now.per_state() or _same_counts(db, form_id, ic, ia)


def _same_counts(db: Session, form_id: int, ic: Table, ia: Table) -> bool:
    """In one snapshot: the sums' households per state against the submissions per state, up to the largest
    one stored (later ones are simply not computed yet)."""
    s = Submission.__table__
    state = _state(s)
    upto = select(func.max(ic.c.submission_id)).scalar_subquery()
    counts = (select(state.label("state"), func.count().label("n"))
              .where(s.c.form_id == form_id, s.c.draft.is_(False), s.c.id <= upto).group_by(state).subquery())
    sums = select(ia.c.state, func.sum(ia.c.households).label("n")).group_by(ia.c.state).subquery()
    rows = db.execute(select(literal("s"), counts.c.state, counts.c.n)
                      .union_all(select(literal("a"), sums.c.state, sums.c.n))).all()
    db.commit()
    return _state_totals([(k, n) for w, k, n in rows if w == "s"]) == _state_totals([(k, n) for w, k, n in rows if w == "a"])


def _state_totals(rows) -> dict[int, int]:
    return {int(k): int(n) for k, n in rows if n}


def _compute(conn, tables, workbook: Workbook, ids: np.ndarray, defs: np.ndarray, entities: bool = False) -> pd.DataFrame:
    """Contributions of the households `ids`, labelled with the versions `defs` they are believed to be at
    (checked again when written: a household edited meanwhile is skipped then). With `entities`, each
    household's latest state: its entity's updates over its answers (server/indicators/latest.py)."""
    need = needed_fields(workbook)
    root = tables.root

    def columns_for(unit: str) -> list:
        t = root if unit == "" else tables.repeats[unit]
        return [t.c[tables.columns[p][1]].label(p) for p in sorted(need.get(unit, ())) if p in tables.columns
                and tables.columns[p][0] == unit]

    wanted = pd.Index(ids)

    def rows(table, cols) -> pd.DataFrame:
        where, dense = latest.ids_clause(table.c.submission_id, ids, conn.dialect.name)
        frame = _frame(conn, select(table.c.submission_id, *cols).where(where))
        if dense and len(frame):
            frame = frame[frame["submission_id"].isin(wanted)]
        return frame.reset_index(drop=True)

    households = rows(root, columns_for(""))
    state = pd.DataFrame({"submission_id": [], "entity_version": []})
    member_path = workbook.contacts.get("member_number_field")
    if entities and len(households):
        state = latest.latest_properties(conn, households["submission_id"].tolist(),
                                         latest.property_names(p for paths in need.values() for p in paths))
        households = latest.apply_to_households(households, state, need.get("", ()))
    units: dict[str, pd.DataFrame] = {}
    for unit in need:
        if unit == "" or unit not in tables.repeats:
            continue
        frame = latest.apply_to_roster(rows(tables.repeats[unit], columns_for(unit)), state, need[unit], member_path)
        # A roster indicator may read household answers (${consent}): join them in by submission.
        ancestor = [p for p in need[unit] if p in tables.columns and tables.columns[p][0] == ""]
        if ancestor:
            frame = frame.merge(households[["submission_id", *[p for p in ancestor if p in households]]],
                                on="submission_id", how="left")
        units[unit] = frame
    result = contributions(workbook, households, units)
    label = pd.Series(defs, index=ids)
    result.insert(1, "def_id", label.reindex(result["submission_id"].to_numpy()).to_numpy())
    versions = pd.Series(state["entity_version"].to_numpy(dtype=np.int64), index=state["submission_id"].to_numpy())
    result.insert(2, "entity_version", versions.reindex(result["submission_id"].to_numpy()).fillna(0)
                  .to_numpy(dtype=np.int64))
    return result.rename(columns={f"{ind.name}__{x}": f"{x}{k}" for k, ind in enumerate(workbook.indicators)
                                  for x in ("n", "d")})


def _lock(db: Session, form_id: int) -> int | None:
    """Serialise writers of this form's derived tables (see the module doc); returns the form's workbook
    generation, read under the lock."""
    t = IndicatorSet.__table__
    if db.connection().dialect.name != "postgresql":
        # the first write of the transaction takes SQLite's write lock; reads after it see the latest data
        db.execute(t.update().where(t.c.form_id == form_id).values(generation=t.c.generation))
        return db.scalar(select(t.c.generation).where(t.c.form_id == form_id))
    return db.scalar(select(t.c.generation).where(t.c.form_id == form_id).with_for_update())


def _apply(db: Session, form_id: int, ic: Table, ia: Table, count: int, generation: int,
           frame: pd.DataFrame) -> int | None:
    """Under the lock: write the rows of `frame` that are still due, and move the sums by their deltas.
    None when the workbook changed meanwhile (nothing written)."""
    if frame.empty:
        return 0
    measures = _measures(count)
    s = Submission.__table__
    if _lock(db, form_id) != generation:
        return None
    conn = db.connection()
    ids = np.sort(frame["submission_id"].to_numpy(dtype=np.int64))
    where, _ = latest.ids_clause(s.c.id, ids, conn.dialect.name)
    joined, stale, entity_version = _stale_rows(s, ic, generation, latest.writes_entities(db, form_id))
    now = _frame(conn, select(s.c.id.label("submission_id"), s.c.current_def_id, _state(s).label("state_now"),
                              entity_version.label("entity_version_now"),
                              ic.c.submission_id.label("old_id"), ic.c.area_code.label("old_area"),
                              ic.c.state.label("old_state"), *[ic.c[m].label(f"old_{m}") for m in measures])
                 .select_from(joined).where(where, stale))
    if now.empty:
        return 0
    merged = frame.merge(now, on="submission_id", how="inner")
    # edited, or its entity updated, since it was computed: next time
    merged = merged[(merged["def_id"] == merged["current_def_id"])
                    & (merged["entity_version"] == merged["entity_version_now"])]
    if merged.empty:
        return 0
    new = merged[["submission_id", "def_id", "area_code", "entity_version", *measures]].copy()
    new.insert(2, "generation", generation)
    new.insert(4, "state", merged["state_now"].astype(int).to_numpy())
    had = merged[merged["old_id"].notna()]
    if len(had):
        old_ids = [int(i) for i in had["submission_id"]]
        if conn.dialect.name == "postgresql":   # one array parameter, not thousands
            conn.exec_driver_sql(f"DELETE FROM {ic.name} WHERE submission_id = ANY(%(ids)s)", {"ids": old_ids})
        else:
            for start in range(0, len(old_ids), 5000):
                conn.execute(ic.delete().where(ic.c.submission_id.in_(old_ids[start:start + 5000])))
    _insert(conn, ic, new[[c.name for c in ic.columns]])
    # The sums move by (new rows) − (old rows), per area and state.
    plus = new[["area_code", "state", *measures]].assign(households=1)
    minus = pd.DataFrame({"area_code": had["old_area"].to_numpy(), "state": had["old_state"].astype(int).to_numpy(),
                          "households": -1, **{m: -had[f"old_{m}"].astype(np.int64).to_numpy() for m in measures}})
    delta = (pd.concat([plus, minus], ignore_index=True).groupby(["area_code", "state"], sort=False)
             [["households", *measures]].sum().reset_index())
    delta = delta[(delta[["households", *measures]] != 0).any(axis=1)]
    _add_sums(conn, ia, delta, measures)
    return len(new)


def _insert(conn, table: Table, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(frame.columns)}) FROM STDIN") as copy:
            for row in frame.itertuples(index=False, name=None):
                copy.write_row(row)
        return
    cols = list(frame.columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         list(frame.astype(object).itertuples(index=False, name=None)))


def _add_sums(conn, ia: Table, delta: pd.DataFrame, measures: list[str]) -> None:
    if delta.empty:
        return
    rows = [{"area_code": r[0], "state": int(r[1]), **{c: int(v) for c, v in zip(["households", *measures], r[2:])}}
            for r in delta[["area_code", "state", "households", *measures]].itertuples(index=False, name=None)]
    insert = pg_insert(ia) if conn.dialect.name == "postgresql" else sqlite_insert(ia)
    stmt = insert.on_conflict_do_update(index_elements=["area_code", "state"],
                                        set_={c: ia.c[c] + insert.excluded[c] for c in ["households", *measures]})
    conn.execute(stmt, rows)


def _reconcile(db: Session, form_id: int, ic: Table, ia: Table, count: int) -> None:
    """After a full check: the sums must count the submissions per state. They cannot disagree through this
    module (rows and sums change together), only if rows went behind its back — submissions deleted from
    the database (the foreign key cascades their rows away, or leaves them behind where foreign keys are
    not enforced). Then rows without a submission are dropped and the sums are rebuilt from the rows."""
    if _same_counts(db, form_id, ic, ia):
        return
    _lock(db, form_id)
    s = Submission.__table__
    conn = db.connection()
    conn.execute(ic.delete().where(~select(s.c.id).where(s.c.id == ic.c.submission_id).exists()))
    _sums_from_rows(db, ic, ia, count)
    db.commit()


# --- reading ----------------------------------------------------------------------------------------------

def aggregate(db: Session, form_id: int, workbook: Workbook, include_rejected: bool = False,
              since: datetime | None = None, until: datetime | None = None) -> dict[str, tuple[int, dict]]:
    """Households and (num, den) per indicator, per area code, over current, undeleted submissions
    (rejected ones too when asked). Without a date range this reads the per-area sums; with one, it
    sums the households' rows received in that range."""
    count = len(workbook.indicators)
    measures = _measures(count)
    states = counted_states(include_rejected)
    if since is None and until is None:
        ia = _sums_table(form_id, count)
        stmt = (select(ia.c.area_code, func.sum(ia.c.households), *[func.sum(ia.c[m]) for m in measures])
                .where(ia.c.state.in_(states)).group_by(ia.c.area_code))
    else:
        ic = contributions_table(form_id, count)
        s = Submission.__table__
        stmt = (select(ic.c.area_code, func.count(), *[func.sum(ic.c[m]) for m in measures])
                .join(s, s.c.id == ic.c.submission_id).where(ic.c.state.in_(states)).group_by(ic.c.area_code))
        if since is not None:
            stmt = stmt.where(s.c.created_at >= since)
        if until is not None:
            stmt = stmt.where(s.c.created_at < until)
    out = {}
    for row in db.execute(stmt):
        if not row[1]:
            continue   # every household of the area was deleted
        values = row[2:]
        out[row[0]] = (int(row[1]), {ind.name: (int(values[2 * k] or 0), int(values[2 * k + 1] or 0))
                                     for k, ind in enumerate(workbook.indicators)})
    return out
