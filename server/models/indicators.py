"""Indicator definitions per form, and the stored per-household contributions they aggregate.

`indicator_sets` keeps the workbook a designer uploaded and what it defines. `ic{form}` keeps one
row per household: which submission version it was computed from, its area code, and for every
indicator the numerator and denominator it adds (`n{k}`, `d{k}`, k = the indicator's position).
Rows are (re)computed only for households that are new or edited since — the rest are summed as
they are — so a new submission shows in the results at the next request, without recomputing all."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import (JSON, Column, ForeignKey, Integer, MetaData, String, Table, and_, func, inspect,
                        or_, select)
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base, UTCDateTime, utcnow
from server.indicators.engine import contributions, needed_fields
from server.indicators.workbook import Workbook
from server.models.form_data import data_tables
from server.models.submissions import Submission


class IndicatorSet(Base):
    __tablename__ = "indicator_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), unique=True)
    workbook_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blobs.id"))
    definition: Mapped[dict] = mapped_column(JSON)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def indicator_set(db: Session, form_id: int) -> IndicatorSet | None:
    return db.scalars(select(IndicatorSet).where(IndicatorSet.form_id == form_id)).first()


def save_workbook(db: Session, form_id: int, workbook: Workbook, blob_id: int | None) -> IndicatorSet:
    found = indicator_set(db, form_id)
    if found is None:
        found = IndicatorSet(form_id=form_id, generation=0)
        db.add(found)
    found.definition, found.workbook_blob_id = workbook.to_json(), blob_id
    found.generation = (found.generation or 0) + 1
    found.updated_at = utcnow()
    db.flush()
    _drop_contributions(db, form_id)  # other indicators, other columns
    return found


def _table_name(form_id: int) -> str:
    return f"ic{form_id}"


def _contributions_table(form_id: int, count: int) -> Table:
    md = MetaData()
    Table("submissions", md, Column("id", Integer, primary_key=True))
    cols = [Column("submission_id", Integer, ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True,
                   autoincrement=False),
            Column("def_id", Integer, nullable=False), Column("generation", Integer, nullable=False),
            Column("area_code", String(64), nullable=False, index=True)]
    for k in range(count):
        cols += [Column(f"n{k}", Integer, nullable=False), Column(f"d{k}", Integer, nullable=False)]
    return Table(_table_name(form_id), md, *cols)


def _drop_contributions(db: Session, form_id: int) -> None:
    conn = db.connection()
    if inspect(conn).has_table(_table_name(form_id)):
        conn.exec_driver_sql(f"DROP TABLE {_table_name(form_id)}")


def _ensure_contributions(db: Session, form_id: int, count: int) -> Table:
    table = _contributions_table(form_id, count)
    conn = db.connection()
    if not inspect(conn).has_table(table.name):
        table.create(conn)
    return table


def _stale(form_id: int, table: Table, generation: int):
    """Households whose stored contribution is missing or was computed from another version."""
    s = Submission.__table__
    return (select(s.c.id, s.c.current_def_id).outerjoin(table, table.c.submission_id == s.c.id)
            .where(s.c.form_id == form_id, s.c.deleted_at.is_(None), s.c.draft.is_(False),
                   or_(table.c.submission_id.is_(None), table.c.def_id != s.c.current_def_id,
                       table.c.generation != generation)))


def _frame(conn, stmt) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def refresh(db: Session, form_id: int, workbook: Workbook, generation: int) -> int:
    """Compute the contributions of new and edited households; returns how many were computed."""
    table = _ensure_contributions(db, form_id, len(workbook.indicators))
    conn = db.connection()
    stale = _stale(form_id, table, generation).subquery("stale")
    tables = data_tables(db, form_id)
    need = needed_fields(workbook)

    def columns_for(unit: str) -> list:
        t = tables.root if unit == "" else tables.repeats[unit]
        return [t.c[tables.columns[p][1]].label(p) for p in sorted(need.get(unit, ())) if p in tables.columns
                and tables.columns[p][0] == unit]

    root = tables.root
    households = _frame(conn, select(root.c.submission_id, stale.c.current_def_id.label("def_id"), *columns_for(""))
                        .join(stale, stale.c.id == root.c.submission_id))
    if households.empty:
        return 0
    units: dict[str, pd.DataFrame] = {}
    for unit in need:
        if unit == "" or unit not in tables.repeats:
            continue
        rep = tables.repeats[unit]
        frame = _frame(conn, select(rep.c.submission_id, *columns_for(unit)).join(stale, stale.c.id == rep.c.submission_id))
        # A roster indicator may read household answers (${consent}): join them in by submission.
        ancestor = [p for p in need[unit] if p in tables.columns and tables.columns[p][0] == ""]
        if ancestor:
            extra = _frame(conn, select(root.c.submission_id, *[root.c[tables.columns[p][1]].label(p) for p in ancestor])
                           .join(stale, stale.c.id == root.c.submission_id))
            frame = frame.merge(extra, on="submission_id", how="left")
        units[unit] = frame
    result = contributions(workbook, households, units)
    result.insert(1, "def_id", households["def_id"].to_numpy())
    result.insert(2, "generation", generation)
    rows = result.rename(columns={f"{ind.name}__{x}": f"{x}{k}" for k, ind in enumerate(workbook.indicators)
                                  for x in ("n", "d")})
    ids = rows["submission_id"].tolist()
    for start in range(0, len(ids), 5000):
        conn.execute(table.delete().where(table.c.submission_id.in_(ids[start:start + 5000])))
    _bulk_insert(conn, table, rows[[c.name for c in table.columns]])
    return len(rows)


def _bulk_insert(conn, table: Table, frame: pd.DataFrame) -> None:
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cols = ", ".join(frame.columns)
            with cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row(row)
        return
    conn.execute(table.insert(), frame.to_dict("records"))


def aggregate(db: Session, form_id: int, workbook: Workbook, include_rejected: bool = False,
              since: datetime | None = None, until: datetime | None = None) -> dict[str, tuple[int, dict]]:
    """Households and (num, den) per indicator, per area code, over current, undeleted submissions."""
    table = _contributions_table(form_id, len(workbook.indicators))
    s = Submission.__table__
    sums = [func.sum(table.c[f"{x}{k}"]) for k in range(len(workbook.indicators)) for x in ("n", "d")]
    stmt = (select(table.c.area_code, func.count(), *sums)
            .join(s, and_(s.c.id == table.c.submission_id, s.c.current_def_id == table.c.def_id))
            .where(s.c.deleted_at.is_(None)).group_by(table.c.area_code))
    if not include_rejected:
        stmt = stmt.where(or_(s.c.review_state.is_(None), s.c.review_state != "rejected"))
    if since is not None:
        stmt = stmt.where(s.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(s.c.created_at < until)
    out = {}
    for row in db.execute(stmt):
        values = list(row[2:])
        out[row[0]] = (row[1], {ind.name: (int(values[2 * k] or 0), int(values[2 * k + 1] or 0))
                                for k, ind in enumerate(workbook.indicators)})
    return out


def data_version(db: Session, form_id: int) -> tuple:
    """Changes whenever a submission of the form is added, edited, reviewed, deleted or restored."""
    s = Submission.__table__
    return tuple(db.execute(select(func.count(), func.max(s.c.id), func.max(func.coalesce(s.c.updated_at, s.c.created_at)),
                                   func.count(s.c.deleted_at), func.max(s.c.deleted_at))
                            .where(s.c.form_id == form_id)).one())
