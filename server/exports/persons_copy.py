"""The person table written by PostgreSQL: `COPY (SELECT …) TO STDOUT (FORMAT csv)`, as copy_csv.py
writes Central's tables, byte for byte what persons.py writes in Python.

Each member's line is its roster cells, its household's cells (computed once a household, in a
subquery the members are joined to), the names of the household's area at each level (from the
registry, handed to the query as one JSON object) and its SubmissionDate, PARENT_KEY and KEY. Every
cell of the person table is made inert (spreadsheet.py): the few records where a cell starts with a
formula character, or holds a carriage return, are read back and written by the csv module with
`inert` on each cell; nearly every record leaves PostgreSQL as it is."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from sqlalchemy import Connection, Text, bindparam, case, cast, func, literal, null, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from server.exports import copy_csv, source
from server.exports.plan import TablePlan
from server.exports.spreadsheet import inert
from server.exports.tables import Export, _answers

# A cell starting with a formula character (the texts joined one a line), or a carriage return anywhere
# (PostgreSQL quotes it, the csv module does not): one regular expression over a row's texts.
_LOOK_AGAIN = "(^|\n)[-=+@\t]|\r"


def usable(conn: Connection, export: Export) -> bool:
    return copy_csv.cells_usable(conn, export)


def _inert_record(record: bytes) -> bytes:
    """The record as persons.py writes it: every cell made inert, written by the csv module."""
    buf = io.StringIO()
    rows = csv.reader(io.StringIO(record.decode("utf-8"), newline=""))
    csv.writer(buf, lineterminator="\n").writerows([inert(cell) for cell in row] for row in rows)
    return buf.getvalue().encode("utf-8")


def person_select(export: Export, roster: TablePlan, household: TablePlan, area_names: dict[str, list] | None,
                  levels: int = 0):
    """Members with their household's cells, in the person table's order. `area_names`: area code ->
    the names of its areas at each of `levels` levels, in the table's order (None: no area columns)."""
    s, rep, root = source.SUBMISSIONS, export.tables.repeats[roster.repeat_path], export.tables.root
    hcolumns, hwhere = _answers(export, household)
    order = (s.c.created_at.desc(), s.c.id.desc())
    # Each household's cells, area names and SubmissionDate, made once (OFFSET 0: not merged into the
    # members' query, so not once per member), and whether one of them is to be looked at again.
    made = (select(s.c.id.label("hamlet_id"), s.c.created_at.label("hamlet_created_at"),
                   s.c.instance_id.label("hamlet_instance_id"),
                   *[c.label(f"h{i}") for i, c in enumerate(
                       copy_csv._cells(household, [root.c[c] for c in hcolumns], hwhere))],
                   *_area_names(export, area_names, levels),
                   copy_csv._timestamp(s.c.created_at).label("hamlet_date"))
            .select_from(s.join(root, root.c.submission_id == s.c.id))
            .where(*export.selection.where(s, root))
            .order_by(*order).offset(0).subquery("made"))
    theirs = list(made.c)[3:]
    households = (select(*made.c, _again(theirs[:-1]).label("hamlet_again"))
                  .order_by(made.c.hamlet_created_at.desc(), made.c.hamlet_id.desc()).offset(0).subquery("households"))
    rcolumns, rwhere = _answers(export, roster)
    instance_id = households.c.hamlet_instance_id
    parent = func.coalesce(instance_id + "/" + func.nullif(rep.c.parent_key, ""), instance_id)
    own = copy_csv._cells(roster, [rep.c[c] for c in rcolumns], rwhere)
    keys = [copy_csv._text(parent), copy_csv._text(instance_id + "/" + rep.c.row_key)]
    again = households.c.hamlet_again | _again([*own, *keys])
    return (select(case((again, literal("1")), else_=null()), *own, *[households.c[c.name] for c in theirs], *keys)
            .select_from(households.join(rep, rep.c.submission_id == households.c.hamlet_id))
            .order_by(households.c.hamlet_created_at.desc(), households.c.hamlet_id.desc(), rep.c.id))


def _again(cells: list) -> ColumnElement:
    """Whether a cell starts with a formula character or holds a carriage return."""
    return func.coalesce(copy_csv.joined(cells).op("~", is_comparison=True)(literal(_LOOK_AGAIN)), False)


def _area_names(export: Export, area_names: dict[str, list] | None, levels: int) -> list:
    """The household's area names, level by level (persons.Registry.names_by_level), looked up by its
    area code in the registry's names."""
    if area_names is None:
        return []
    found = export.tables.columns.get(export.selection.area_path or "")
    if not area_names or found is None or found[0] != "":
        return [null().label(f"area{i}") for i in range(levels)]
    names = cast(bindparam("area_names", json.dumps(area_names, ensure_ascii=False), type_=Text),
                 JSONB)
    of_household = names[export.tables.root.c[found[1]]]
    return [func.nullif(of_household.op("->>")(literal(i)), "").label(f"area{i}") for i in range(levels)]


def person_chunks(conn: Connection, export: Export, roster: TablePlan, household: TablePlan,
                  area_names: dict[str, list] | None, levels: int) -> Iterator[bytes]:
    """The member lines (no header), by COPY."""
    stmt = person_select(export, roster, household, area_names, levels)
    return copy_csv.copy_chunks(conn, None, stmt, _inert_record)
