"""An Excel workbook streamed as it is written: one sheet per table, the header frozen.

openpyxl and XlsxWriter both finish the whole file before the first byte can leave, which for
100k households means a long silent wait and a temporary file; a workbook is only a zip of XML
parts, so it is written here part by part into the same ZipStream the CSV zip uses. Strings are
inline (no shared-string table to hold in memory); numbers stay numbers so Excel can sum them."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr, unescape

from sqlalchemy import Engine

from server.exports.csv_files import connect
from server.exports.tables import Export, header, make_plans, repeat_table, root_table
from server.exports.zipstream import ZipStream

MAX_ROWS = 1_048_576
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NUMBER = re.compile(r"-?(0|[1-9]\d{0,14})(\.\d+)?")
ROWS_PER_CHUNK = 500
SEEN_PER_COLUMN = 4096   # texts remembered per column: enough for choices and area codes, little memory

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{sheets}</Types>"""
SHEET_TYPE = '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"""
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs></styleSheet>"""
SHEET_START = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="{rows}" topLeftCell="A{first}" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>"""
SHEET_END = "</sheetData></worksheet>"


def sheet_names(names: list[str]) -> list[str]:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique regardless of case."""
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Sheet"
        candidate, n = base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{base[:31 - len(str(n)) - 1]}~{n}"
        taken.add(candidate.lower())
        out.append(candidate)
    return out


# Excel holds at most 32,767 characters (UTF-16 code units) in a cell, and calls a workbook with a longer one
# damaged. Such a text (a long note, say) is cut to fit and says so; the CSV keeps it whole.
CELL_LIMIT = 32_767
CUT = " … [cắt bớt: một ô Excel chứa tối đa 32.767 ký tự; bản CSV có đủ]"


def fitted(text: str) -> str:
    """The text as an Excel cell can hold it: whole, or cut (never inside a surrogate pair) with CUT after it."""
    if len(text) <= CELL_LIMIT // 2:   # fits even if every character took two units
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * CELL_LIMIT:
        return text
    return units[:2 * (CELL_LIMIT - len(CUT))].decode("utf-16-le", "ignore") + CUT


# A plain text cell of a row the database made (xlsx_rows.py: no attribute, no `<` inside) whose escaped
# text is long enough that it might not fit.
_LONG_TEXT = re.compile(f"<t>([^<]{{{CELL_LIMIT // 2 + 1},}})</t>")


def fitted_row(row: str) -> str:
    """A row the database made with its texts cut as _text_cell cuts them (escape is undone by unescape)."""
    return _LONG_TEXT.sub(lambda m: f"<t>{escape(fitted(unescape(m.group(1))))}</t>", row)


def _text_cell(value: str, style: str = "") -> str:
    text = _ILLEGAL.sub("", value)
    if len(text) > CELL_LIMIT // 2:   # most cells: no call
        text = fitted(text)
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c t="inlineStr"{style}><is><t{space}>{escape(text)}</t></is></c>'


def _cell(value, numeric: bool, style: str) -> str:
    if (isinstance(value, int) and not isinstance(value, bool)) or (numeric and _NUMBER.fullmatch(value)):
        return f"<c><v>{value}</v></c>"
    return _text_cell(str(value), style)


def _row(cells: list, numeric: list[bool], style: str = "", seen: list[dict] | None = None) -> str:
    """`seen`: per column, the cells already made from a text. Most answers repeat (choice values,
    codes, yes/no), and escaping each of 8 million cells was most of a 100k-household workbook's CPU.
    Every cell is first looked up in its column's cells at once (`map`, in C; an empty cell is there
    from the start); only the cells not found are made here one by one."""
    if seen is None:
        return "<row>" + "".join(_made(value, i < len(numeric) and numeric[i], style) for i, value in enumerate(cells)) \
            + "</row>"
    if len(seen) < len(cells):
        seen.extend({None: EMPTY, "": EMPTY} for _ in range(len(cells) - len(seen)))
    made: list = list(map(dict.get, seen, cells))
    at = -1
    while True:
        try:
            at = made.index(None, at + 1)
        except ValueError:
            break
        value = cells[at]
        made[at] = cell = _cell(value, at < len(numeric) and numeric[at], style)
        column = seen[at]
        if value.__class__ is str and len(column) < SEEN_PER_COLUMN:
            column[value] = cell
    return "<row>" + "".join(made) + "</row>"


EMPTY = "<c/>"


def _made(value, numeric: bool, style: str) -> str:
    return EMPTY if value is None or value == "" else _cell(value, numeric, style)


def _sheet(head: list[str], labels: list[str] | None, rows: Iterable[list], numeric: list[bool],
           made: Iterable[str] | None = None) -> Iterator[bytes]:
    """`made`: the data rows' XML already written (xlsx_rows.py), instead of `rows`' cells."""
    frozen = 2 if labels else 1
    out = [SHEET_START.format(rows=frozen, first=frozen + 1), _row(head, [], ' s="1"')]
    if labels:
        out.append(_row(labels, [], ' s="1"'))
    written = frozen
    seen: list[dict[str, str]] = []
    for row in made if made is not None else (_row(row, numeric, seen=seen) for row in rows):
        if written >= MAX_ROWS:
            break  # Excel's limit; the CSV export has no such limit
        out.append(row)
        written += 1
        if len(out) >= ROWS_PER_CHUNK:
            yield "".join(out).encode("utf-8")
            out.clear()
    out.append(SHEET_END)
    yield "".join(out).encode("utf-8")


def xlsx_chunks(engine: Engine, export: Export, label_row: Export | None = None) -> Iterator[bytes]:
    """`label_row`: the same export prepared with labels, whose header becomes a second header row."""
    with connect(engine) as conn:
        plans = make_plans(conn, export)
        if label_row is not None:
            label_row.plans = plans
        names = sheet_names([p.repeat.name if p.repeat is not None else export.form.xml_form_id for p in plans])
        archive = ZipStream(compresslevel=1)
        sheets = "".join(SHEET_TYPE.format(n=i + 1) for i in range(len(plans)))
        yield from archive.entry("[Content_Types].xml", [CONTENT_TYPES.format(sheets=sheets).encode()])
        yield from archive.entry("_rels/.rels", [ROOT_RELS.encode()])
        book = "".join(f'<sheet name={quoteattr(n)} sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
        yield from archive.entry("xl/workbook.xml", [WORKBOOK.format(sheets=book).encode("utf-8")])
        rels = "".join(f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                       f'relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>' for i in range(len(plans)))
        yield from archive.entry("xl/_rels/workbook.xml.rels", [WORKBOOK_RELS.format(rels=rels).encode()])
        yield from archive.entry("xl/styles.xml", [STYLES.encode()])
        from server.exports import xlsx_rows

        by_database = xlsx_rows.usable(conn, export)
        heads = [(header(export, plan), header(label_row, plan) if label_row is not None else None) for plan in plans]
        later = xlsx_rows.LaterSheets(engine, conn, export, plans[1:], heads[1:], archive.compresslevel) \
            if by_database and len(plans) > 1 else None
        try:
            for i, (plan, (head, labels)) in enumerate(zip(plans, heads)):
                name = f"xl/worksheets/sheet{i + 1}.xml"
                if later is not None and i > 0:
                    yield from archive.deflated(name, later.sheet(i - 1))
                    continue
                if by_database:
                    sheet = _sheet(head, labels, [], plan.numeric(), xlsx_rows.row_xml(conn, export, plan))
                else:
                    rows = root_table(conn, export) if plan.repeat is None else repeat_table(conn, export, plan)
                    sheet = _sheet(head, labels, rows, plan.numeric())
                yield from archive.entry(name, sheet)
        finally:
            if later is not None:
                later.close()
        yield from archive.finish()
