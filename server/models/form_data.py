"""Answers stored as columns: one table per form for households, one per repeat group for rosters.

Each form gets a root table `d{form}` (one row per submission, its current version) and a table
`d{form}_r{n}` per repeat (one row per repeat instance, with Central's KEY suffix and its parent's).
Every leaf field is a TEXT column `c{n}`, holding the exact text of the XML element; the mapping
from field path to column is data (`form_columns`), so new form versions add columns and never
rename or drop one. This is what makes per-area aggregation over roster rows a GROUP BY and an
export a streamed SELECT (or COPY), instead of re-parsing stored XML (README, Architecture)."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, Table, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base
from server.xforms.schema import Schema, read_schema


class FormTable(Base):
    __tablename__ = "form_tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    repeat_path: Mapped[str] = mapped_column(String(1024))  # "" for the root table
    table_name: Mapped[str] = mapped_column(String(63), unique=True)


class FormColumn(Base):
    __tablename__ = "form_columns"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(2048))
    repeat_path: Mapped[str] = mapped_column(String(1024))
    column_name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(32))


@dataclass(frozen=True)
class DataTables:
    """SQLAlchemy Table objects for one form, and where each field path lives."""

    root: Table
    repeats: dict[str, Table]           # repeat path -> table
    columns: dict[str, tuple[str, str]]  # field path -> (repeat path, column name)


def _table(name: str, repeat: bool, columns: list[str], with_key: bool = False) -> Table:
    """`with_key`: a foreign key to submissions, made on SQLite only. On PostgreSQL intake writes a
    household's rows in the statement that writes its submission (server/models/intake.py), and the key
    was checked again for every row, locking the submission's row: with a 4-member roster, five checks,
    0.03–0.06 ms of the database's ~0.75 ms a submission (bench/README.md). Nothing needs it there:
    submissions are hidden (`deleted_at`), not deleted; test submissions' rows are deleted first
    (server/models/draft_tests.py); every reader goes through submissions (a join, or its ids); and
    PostgreSQL never gives a removed submission's id to another. SQLite does (a new row takes the
    largest id + 1), so there the key's cascade keeps a submission removed by hand from leaving its
    rows to the next one; its check is an index look-up without a lock."""
    md = MetaData()
    key = [ForeignKey("submissions.id", ondelete="CASCADE")] if with_key else []
    cols: list[Column]
    if repeat:
        cols = [Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
                Column("submission_id", Integer, *key, index=True, nullable=False),
                Column("row_key", Text, nullable=False), Column("parent_key", Text, nullable=False)]
    else:
        cols = [Column("submission_id", Integer, *key, primary_key=True, autoincrement=False)]
    if with_key:  # the key's target must be known to this MetaData for CREATE TABLE; a stub is enough
        Table("submissions", md, Column("id", Integer, primary_key=True))
    return Table(name, md, *cols, *[Column(c, Text) for c in columns])


def ensure_tables(db: Session, form_id: int, schema: Schema, retype: bool = True) -> None:
    """Create the form's data tables, or add columns for fields this version introduces.

    `retype=False` (a draft, for its test submissions) leaves the types of existing columns as the
    published versions set them."""
    conn = db.connection()
    tables = {t.repeat_path: t for t in db.scalars(select(FormTable).where(FormTable.form_id == form_id))}
    existing = {c.path: c for c in db.scalars(select(FormColumn).where(FormColumn.form_id == form_id))}
    used = len(existing)
    wanted: dict[str, list[FormColumn]] = {}
    for f in schema.leaves():
        path = "/".join(f.path)
        repeat = schema.repeat_of(f)
        repeat_path = "/".join(repeat) if repeat else ""
        if path in existing:
            if retype and existing[path].type != f.type:
                existing[path].type = f.type  # the newest version's type decides how exports render it
            continue
        used += 1
        col = FormColumn(form_id=form_id, path=path, repeat_path=repeat_path, column_name=f"c{used}", type=f.type)
        db.add(col)
        wanted.setdefault(repeat_path, []).append(col)
    repeat_paths = [""] + ["/".join(r.path) for r in schema.repeats()]
    for rp in repeat_paths:
        new_cols = [c.column_name for c in wanted.get(rp, [])]
        if rp not in tables:
            name = f"d{form_id}" if rp == "" else f"d{form_id}_r{len(tables)}"
            db.add(FormTable(form_id=form_id, repeat_path=rp, table_name=name))
            tables[rp] = FormTable(form_id=form_id, repeat_path=rp, table_name=name)
            _table(name, rp != "", new_cols, with_key=conn.dialect.name != "postgresql").create(conn)
        else:
            for c in new_cols:
                conn.exec_driver_sql(f'ALTER TABLE {tables[rp].table_name} ADD COLUMN {c} TEXT')
    db.flush()


class VersionCache:
    """Per-app caches of what never changes for a published form version: its schema and its tables.

    A version's fields never change and their columns exist from its publication on, so an entry is
    never stale for the version it serves (other workers may add columns for later versions; those
    get entries of their own). The cache lives on the app, so a fresh app starts empty."""

    def __init__(self) -> None:
        self._schemas: dict[int, Schema] = {}
        self._tables: dict[int, DataTables] = {}
        self._lock = threading.Lock()

    def schema(self, db: Session, form_def_id: int) -> Schema:
        found = self._schemas.get(form_def_id)
        if found is None:
            from server.models.forms import FormDef

            found = read_schema(db.execute(select(FormDef.xml).where(FormDef.id == form_def_id)).scalar_one())
            with self._lock:
                self._schemas[form_def_id] = found
        return found

    def tables(self, db: Session, form_id: int, form_def_id: int) -> DataTables:
        found = self._tables.get(form_def_id)
        if found is None:
            found = data_tables(db, form_id)
            with self._lock:
                self._tables[form_def_id] = found
        return found


def data_tables(db: Session, form_id: int) -> DataTables:
    """The form's tables with every column any version has added, read fresh."""
    tables = {t.repeat_path: t.table_name for t in db.scalars(select(FormTable).where(FormTable.form_id == form_id))}
    cols = list(db.scalars(select(FormColumn).where(FormColumn.form_id == form_id).order_by(FormColumn.id)))
    by_table: dict[str, list[str]] = {rp: [] for rp in tables}
    for c in cols:
        by_table.setdefault(c.repeat_path, []).append(c.column_name)
    result = DataTables(
        root=_table(tables[""], False, by_table.get("", [])),
        repeats={rp: _table(name, True, by_table.get(rp, [])) for rp, name in tables.items() if rp},
        columns={c.path: (c.repeat_path, c.column_name) for c in cols},
    )
    return result
