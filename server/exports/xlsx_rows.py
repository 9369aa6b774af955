"""An XLSX sheet's rows written by PostgreSQL: each row's `<row>…</row>` made in SQL, byte for byte
what xlsx._row makes of the same cells.

Building each cell's XML in Python (a cache look-up, a regular expression, escaping) was ~80% of a
100k-household workbook's CPU, one core's worth, while PostgreSQL waited. Here the cells are the
ones copy_csv.py selects for Central's CSV (the same texts as tables.py's, an empty text as NULL,
which a sheet shows alike), and each becomes its XML with plain string functions; Python only joins
rows and compresses them, on the other core.

A row with a text to change (escaped, emptied of characters XML forbids, its edge spaces kept) or a
number-typed cell holding a character outside ASCII (xlsx's number pattern takes any script's digits,
PostgreSQL's `[0-9]` does not) comes with its cells instead, and xlsx._row writes it: such texts are
rare, and one test over the whole row is cheaper than one per cell."""
from __future__ import annotations

import json
import re
import sys
import threading
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache

from sqlalchemy import Connection, Engine, Integer, Text, case, cast, func, literal, or_, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.sql.elements import ColumnElement

from server.exports import copy_csv, xlsx
from server.exports.csv_files import connect
from server.exports.plan import TablePlan
from server.exports.tables import Export
from server.exports.zipstream import Deflated

NUMBER = "^-?(0|[1-9][0-9]{0,14})(\\.[0-9]+)?$"    # xlsx._NUMBER over ASCII
assert xlsx._NUMBER.pattern == r"-?(0|[1-9]\d{0,14})(\.\d+)?"


@cache
def _characters() -> tuple[str, str]:
    """xlsx._ILLEGAL's characters (deleted by translate(); PostgreSQL's texts never hold NUL), and
    every character str.isspace() is true of (a text starting or ending with one keeps its spaces),
    found among all of Unicode held in one string (not a million one-character ones)."""
    every = array("I", range(1, 0x110000)).tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be",
                                                            "surrogatepass")
    return "".join(xlsx._ILLEGAL.findall(every)), "".join(re.findall(r"\s", every))   # \s: str.isspace()



def usable(conn: Connection, export: Export) -> bool:
    """When the sheets' cells are those Central's CSV holds (no labels, split selects or keys)."""
    return copy_csv.usable(conn, export, bom=False, spreadsheet=False)


# A plain row is made by concat_ws, its cells joined by what ends one text cell and starts the
# next; an empty cell and a number are marked by characters no plain row holds (XML forbids them) and
# their tags put right by replace(): a few calls a row instead of a few a cell.
OPEN, CLOSE = '<c t="inlineStr"><is><t>', "</t></is></c>"
EMPTY_MARK, NUMBER_START, NUMBER_END = "\x01", "\x02", "\x03"


def _marked(value: ColumnElement, numeric: bool) -> ColumnElement:
    """The cell's text as it goes between OPEN and CLOSE: EMPTY_MARK for NULL, a number between its marks."""
    if isinstance(value.type, Integer):
        # ||, not concat(): NULL stays NULL, an empty cell
        return func.coalesce(literal(NUMBER_START) + cast(value, Text) + literal(NUMBER_END), literal(EMPTY_MARK))
    if numeric:
        return case((value.is_(None), literal(EMPTY_MARK)),
                    (value.op("~")(literal(NUMBER)), func.concat(NUMBER_START, value, NUMBER_END, type_=Text)),
                    else_=value)
    return func.coalesce(value, literal(EMPTY_MARK))


def _row(cells: list[ColumnElement], flags: list[bool]) -> ColumnElement:
    """xlsx._row of a plain row."""
    joined = copy_csv.joined([_marked(c, flag) for c, flag in zip(cells, flags)], CLOSE + OPEN)
    row: ColumnElement = func.concat("<row>" + OPEN, joined, CLOSE + "</row>", type_=Text)
    row = func.replace(row, literal(OPEN + EMPTY_MARK + CLOSE), literal(xlsx.EMPTY), type_=Text)
    if any(flags) or any(isinstance(c.type, Integer) for c in cells):
        row = func.replace(row, literal(OPEN + NUMBER_START), literal("<c><v>"), type_=Text)
        row = func.replace(row, literal(NUMBER_END + CLOSE), literal("</v></c>"), type_=Text)
    return row


def _plain(texts: list[ColumnElement], numbers: list[ColumnElement]) -> ColumnElement:
    """Whether every text of the row goes in as it is: none holds a character XML forbids or `&<>`,
    or starts or ends with a space (xlsx._text_cell), which one regular expression over the row's
    texts, one a line, says at once; and no number-typed cell holds a character outside ASCII.
    (A text too long for a cell is cut after, in row_xml: rare, and a test here cost 9% of the
    database's CPU.)"""
    illegal, spaces = _characters()
    special = f"[{illegal}&<>]|^[{spaces}]|[{spaces}]$|[{spaces}]\n|\n[{spaces}]"   # \n is a space
    found: list[ColumnElement] = [copy_csv.joined(texts).op("~", is_comparison=True)(literal(special))]
    found += [func.octet_length(n) != func.char_length(n) for n in numbers]
    return ~func.coalesce(or_(*found), False)


class _Finish:
    """copy_csv's `finish`: the row's XML, or when Python must write it its cells as a JSON list of texts.
    Keeps the cells it was given, for row_xml to read their count and types from the same statement."""

    def __init__(self, numeric: list[bool]):
        self.numeric = numeric
        self.cells: list[ColumnElement] = []

    def __call__(self, cells: list[ColumnElement]) -> list[ColumnElement]:
        self.cells = cells
        flags = [i < len(self.numeric) and self.numeric[i] for i in range(len(cells))]
        texts = [c for c in cells if not isinstance(c.type, Integer)]
        numbers = [c for c, flag in zip(cells, flags) if flag and not isinstance(c.type, Integer)]
        plain = _plain(texts, numbers)
        row = _row(cells, flags)
        every = func.to_json(type_coerce(pg_array([cast(c, Text) for c in cells]), ARRAY(Text)), type_=Text)
        return [case((plain, row), else_=cast(every, Text)).label("xml")]


def row_xml(conn: Connection, export: Export, plan: TablePlan) -> Iterator[str]:
    """Each data row of the plan's sheet as xlsx._row writes it, in the export's order."""
    numeric = plan.numeric()
    finish = _Finish(numeric)
    if plan.repeat is None:
        stmt = copy_csv.root_select(export, finish)
    else:
        if plan.repeat_path not in export.tables.repeats:
            return
        stmt = copy_csv.repeat_select(export, plan, finish)
    ints = [i for i, c in enumerate(finish.cells) if isinstance(c.type, Integer)]
    # A row no longer than this holds no text over CELL_LIMIT // 2 characters, which always fits: <row></row>,
    # the text's own cell tags (37) and at least <c/> for every other cell. Longer rows are searched (~0.65 ns
    # a character), most rows pass without a call.
    short = xlsx.CELL_LIMIT // 2 + 11 + 37 + 4 * (len(finish.cells) - 1)
    for (made,) in conn.execution_options(**copy_csv.source.STREAM).execute(stmt):
        yield made if made[0] != "[" and len(made) <= short else finished(made, ints, numeric)


def finished(made: str, ints: list[int], numeric: list[bool]) -> str:
    """The row `_Finish` selected as xlsx._row writes it: its XML with a text too long for a cell cut, or
    its cells (a JSON list of texts; `ints`: those of integer columns) for xlsx._row to write."""
    if made[0] != "[":
        return xlsx.fitted_row(made)
    cells = json.loads(made)
    for i in ints:
        if cells[i] is not None:
            cells[i] = int(cells[i])
    return xlsx._row(cells, numeric)


class _Stopped(Exception):
    """The workbook's response was closed before a later sheet was done."""


class LaterSheets:
    """The sheets after the first, made by a second connection in the first one's snapshot and
    compressed on a thread of their own while the first sheet streams; the archive adds each in its
    turn as it is (`ZipStream.deflated`), the same bytes as when made in turn.

    Each sheet is PostgreSQL's work (~1.5 s at 100k households) and one connection made them one
    after the other, leaving the machine's second core mostly idle. zlib and psycopg's waits on the
    socket release the GIL, so a thread is enough."""

    def __init__(self, engine: Engine, conn: Connection, export: Export, plans: list[TablePlan],
                 heads: list[tuple[list[str], list[str] | None]], compresslevel: int) -> None:
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        self._conn = connect(engine)
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._made: list[Future[Deflated]] = []
        try:
            # first in its transaction, while the exporting one is open (PostgreSQL's rule)
            self._conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="xlsx-sheets")
            self._made = [self._pool.submit(self._make, export, plan, head, labels, compresslevel)
                          for plan, (head, labels) in zip(plans, heads)]
        except BaseException:
            self.close()
            raise

    def _make(self, export: Export, plan: TablePlan, head: list[str], labels: list[str] | None,
              compresslevel: int) -> Deflated:
        done = Deflated(compresslevel)
        try:
            for chunk in xlsx._sheet(head, labels, [], plan.numeric(), row_xml(self._conn, export, plan)):
                if self._stop.is_set():
                    raise _Stopped
                done.write(chunk)
            done.close()
        except BaseException:
            done.bytes.close()
            raise
        return done

    def sheet(self, i: int) -> Deflated:
        """The i-th later sheet, compressed, once it is done (its error raised here)."""
        return self._made[i].result()

    def close(self) -> None:
        """Stops what is not done and frees what was not added (a response closed early)."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for made in self._made:
            if not made.cancelled() and made.exception() is None:
                made.result().bytes.close()
        self._conn.close()
