"""Central's CSV tables written by PostgreSQL itself: `COPY (SELECT …) TO STDOUT (FORMAT csv)`.

Reading 500,000 rows into Python tuples and writing them back out with the csv module cost ~12 µs
of CPU per row; the database already knows how to write CSV, in C, straight from the column tables.
The SELECT here is the one tables.py reads (source.root_query / repeat_query) wrapped in an outer
one that makes each cell as tables.py and csv_files.py would: timestamps in Central's format,
geopoints split on JavaScript's whitespace, PARENT_KEY and KEY, an encrypted submission's status.

Byte for byte the same file as the csv module writes, which differs from PostgreSQL's CSV in two
ways: an empty text is written as nothing (PostgreSQL writes `""`, so every text cell goes through
NULLIF), and a value holding a carriage return but no comma, quote or line feed is not quoted
(PostgreSQL quotes it): the rare row with a `\\r` is read back and written again by the csv module.

Only for Central's own format: labels, split select multiples, decrypted submissions and files
meant for a spreadsheet are made in Python (`usable` says which)."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Text, case, func, literal, null, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement, Grouping

from server.exports import source
from server.exports.plan import SPACE, TablePlan
from server.exports.tables import MISSING_ENCRYPTED_DATA, NOT_DECRYPTED, Export, _answers

CHUNK = 256 * 1024
MAX_ARGUMENTS = 90   # a function such as concat_ws() takes at most 100
INTRANS = TransactionStatus.INTRANS
# plan.SPACE in PostgreSQL's regular expressions (ARE): the same characters, by their code points.
_SPACE = "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]+"
_PLAIN_GEOPOINT = "^[-0-9.]+ [-0-9.]+ [-0-9.]+ [-0-9.]+$"
assert SPACE.pattern == "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"


def usable(conn: Connection, export: Export, bom: bool, spreadsheet: bool) -> bool:
    """Whether PostgreSQL can write this export's tables exactly as the csv module would."""
    return not bom and not spreadsheet and cells_usable(conn, export)


def cells_usable(conn: Connection, export: Export) -> bool:
    """Whether the cells selected here are tables.py's (no labels, split selects or keys; UTF8)."""
    if conn.dialect.name != "postgresql":
        return False
    if export.labels is not None or export.decryptor is not None:
        return False
    if any(col.choices for plan in export.plans for col in plan.columns):
        return False
    # COPY writes in the connection's encoding; \\u escapes in regular expressions need a UTF8 database.
    encodings = conn.exec_driver_sql("SELECT current_setting('client_encoding'), "
                                     "pg_encoding_to_char(encoding) FROM pg_database "
                                     "WHERE datname = current_database()").one()
    return tuple(encodings) == ("UTF8", "UTF8")


def _text(value) -> ColumnElement:
    return func.nullif(value, "")



def _cells(plan: TablePlan, answers: list, where: list[int], splits: Mapping[int, ColumnElement] | None = None,
           shown=None, text=_text) -> list[ColumnElement]:
    """plan.cells in SQL: a geopoint's four parts, every other field's text. `splits`: a geopoint's
    parts already split (by where it sits among the answers), `shown` the condition for showing them."""
    out: list[ColumnElement] = []
    for col, w in zip(plan.columns, where):
        value = answers[w] if w >= 0 else null()
        if col.field.type == "geopoint":
            if splits is not None and w in splits:
                out += [text(case((shown, splits[w][k]), else_=null())) for k in range(1, 5)]
                continue
            parts = Grouping(_split(value))   # (CASE … END)[k]: without the brackets, a syntax error
            out += [text(parts[k]) for k in range(1, 5)]
        else:
            out.append(text(value))
    return out


def joined(texts: list[ColumnElement], between: str = "\n") -> ColumnElement:
    """The texts joined by `between`, NULLs left out (concat_ws), in calls of at most MAX_ARGUMENTS; no texts:
    '' (concat_ws needs one besides `between`: a household without answers of its own in the person table)."""
    if not texts:
        return literal("", Text)
    while len(texts) > MAX_ARGUMENTS:
        texts = [func.nullif(func.concat_ws(between, *texts[i:i + MAX_ARGUMENTS], type_=Text), "")
                 for i in range(0, len(texts), MAX_ARGUMENTS)]
    return func.concat_ws(between, *texts, type_=Text)


def _split(value) -> ColumnElement:
    """The geopoint's parts. Nearly every value is Collect's `lat lon alt acc`: four numbers between
    single spaces, which split on the space alike (string_to_array) without the costlier regular
    expression split (at 100k households 0.20 s against 0.70 s for the check and the split)."""
    return case((value.op("~")(literal(_PLAIN_GEOPOINT)), func.string_to_array(value, literal(" "), type_=ARRAY(Text))),
                else_=func.regexp_split_to_array(value, literal(_SPACE), type_=ARRAY(Text)))


def _timestamp(value) -> ColumnElement:
    """server.db.isoformat: UTC, milliseconds (truncated, as to_char's MS is), a Z."""
    return func.to_char(func.timezone("UTC", value), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')


def _as_stored(value) -> ColumnElement:
    return value


def root_select(export: Export, finish=None, empty_as_null: bool = True):
    """The root table's cells over source.root_query. That query is kept a subquery of its own
    (OFFSET 0: PostgreSQL does not merge it into this one), so each row's encrypted state and each
    geopoint's split are computed once, not once for each of the ~60 cells that read them.
    `finish`: what the cells become instead (xlsx_rows.py: one row of sheet XML), given the cells.
    `empty_as_null=False`: an empty text stays one, as tables.root_table has it (GeoJSON tells them apart)."""
    text = _text if empty_as_null else _as_stored
    plan = export.root
    columns, where = _answers(export, plan)
    query = source.root_query(export.tables, columns, export.selection, lateral=True)
    geopoints = sorted({w for col, w in zip(plan.columns, where) if col.field.type == "geopoint" and w >= 0})
    query = query.add_columns(*[_split(query.selected_columns[12 + w]) for w in geopoints])
    inner = query.offset(0).subquery()
    c = list(inner.c)
    (submission_id, instance_id, created_at, submitter_id, submitter_name, present, expected, encrypted,
     review_state, device_id, edits, version) = c[:12]
    plain = encrypted == 0
    answers = [case((plain, a), else_=null()) for a in c[12:12 + len(columns)]]
    splits = dict(zip(geopoints, c[12 + len(columns):]))
    status = case((plain, null()), (encrypted == 2, MISSING_ENCRYPTED_DATA), else_=NOT_DECRYPTED)
    cells = [_timestamp(created_at), *_cells(plan, answers, where, splits, plain, text), text(instance_id),
             submitter_id, text(submitter_name), present, expected, status, text(review_state),
             text(device_id), edits, text(version)]
    return select(*(finish(cells) if finish else cells)).order_by(created_at.desc(), submission_id.desc())


def repeat_select(export: Export, plan: TablePlan, finish=None):
    columns, where = _answers(export, plan)
    rep = export.tables.repeats[plan.repeat_path]
    inner = (source.repeat_query(export.tables, plan.repeat_path, columns, export.selection, ordered=True)
             .add_columns(rep.c.id.label("hamlet_row_order")).subquery())
    c = list(inner.c)
    created_at, submission_id, instance_id, key, parent_key = c[:5]
    answers, row_order = c[5:-1], c[-1]
    parent = case((parent_key != "", instance_id + "/" + parent_key), else_=instance_id)
    cells = [*_cells(plan, answers, where), _text(parent), _text(instance_id + "/" + key)]
    return select(*(finish(cells) if finish else cells)).order_by(created_at.desc(), submission_id.desc(), row_order)


def _statement(conn: Connection, stmt) -> tuple[str, dict]:
    """The SQL text and its parameters, as SQLAlchemy would send them (bind processors applied), for
    psycopg to merge into the COPY (which takes no server-side parameters)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    for name, process in compiled._bind_processors.items():
        if name in params:
            params[name] = process(params[name])
    return str(compiled), params


def _python_rewrite(record: bytes) -> bytes:
    """A record as the csv module writes it (PostgreSQL quoted a value for its carriage return)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(csv.reader(io.StringIO(record.decode("utf-8"), newline="")))
    return buf.getvalue().encode("utf-8")


def copy_chunks(conn: Connection, head: list[str] | None, stmt,
                rewrite: Callable[[bytes], bytes] | None = None) -> Iterator[bytes]:
    """The header (by the csv module; None: none) and the rows (by PostgreSQL) in chunks of about CHUNK
    bytes. `rewrite`: the statement's first column says (1 or nothing) whether the record, the rest of
    its columns, is to be written by `rewrite` instead; without it a record holding a carriage return is."""
    if head is not None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(head)
        yield buf.getvalue().encode("utf-8")
    sql, params = _statement(conn, stmt)
    cursor = conn.connection.driver_connection.cursor()   # type: ignore[union-attr]
    try:
        with streaming_plan(conn), cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            parts: list[bytes] = []
            size = 0
            for record in copy:
                data = bytes(record)
                if rewrite is not None:
                    data = rewrite(data[2:]) if data[0] == 49 else data[1:]   # b"1," or b","
                elif b"\r" in data:
                    data = _python_rewrite(data)
                parts.append(data)
                size += len(data)
                if size >= CHUNK:
                    yield b"".join(parts)
                    parts.clear()
                    size = 0
            if parts:
                yield b"".join(parts)
    finally:
        cursor.close()


@contextmanager
def streaming_plan(conn: Connection) -> Iterator[None]:
    """The statements run inside planned to stream in the export's order from the first row.

    COPY is planned for its whole result, unlike a cursor (cursor_tuple_fraction): PostgreSQL chose hash
    joins and a sort of all 100,000 households before the first row (1.3 s at 100k), and right after a
    bulk load, without statistics, a sort of every household even with nested loops. The export's
    order is an index's (submissions by form and time): nested loops from it stream from the first
    row, and the database's work then overlaps the compression here. GeoJSON's cursor over root_select
    was planned with a sort too: its first row came after 0.73 s at 100k, 12 ms with these settings,
    the whole result in the same 1.65 s. (The XLSX rows' cursors are left alone: with these settings
    the workbook took 9-13 s in-process against 5.4 s.)"""
    cursor = conn.connection.driver_connection.cursor()   # type: ignore[union-attr]
    settings = ("enable_hashjoin", "enable_mergejoin", "enable_sort")
    saved = cursor.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name in settings)).fetchone()
    cursor.execute("SELECT " + ", ".join(f"set_config('{name}', 'off', true)" for name in settings))
    try:
        yield
    finally:
        if not cursor.closed and conn.connection.driver_connection.info.transaction_status == INTRANS:   # type: ignore[union-attr]
            cursor.execute("SELECT " + ", ".join(f"set_config('{name}', %s, true)" for name in settings), saved)
        cursor.close()
