"""Cells of a CSV file meant for a spreadsheet, with formulas made inert (CSV injection).

Any data collector can type `=1+2`, `@SUM(1)` or `=cmd|' /C calc'!A0` as a name or a phone number;
Excel, LibreOffice and Google Sheets run such a cell as a formula when the CSV is opened. As OWASP's
"CSV Injection" page advises, a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return gets a single quote in front, which the spreadsheet shows and never evaluates.

A cell that is exactly a number (`-5`, `+84905123456`, `-12.5e3`) is left alone: a spreadsheet
reads it as that number, not as a formula, so quoting it would only turn a negative number into
text that no longer sums. Anything else after the sign (`-1+1`, `+84 905 123 456`, `-A1`) is quoted.

Used by every file meant for a spreadsheet: CSV with a BOM or with labels, the person table, the
follow-up and indicator CSVs. Central's own CSV (no BOM, no labels) is written as Central writes it,
byte for byte, and so is left untouched."""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# A cell starting with a FORMULA_START character, in a row's texts joined by NUL (or a NUL inside a
# text followed by one: then the row is only looked at cell by cell, which is always right).
_SOME_START = re.compile("(?:^|\x00)[=+@\t\r-]")


def inert(value):
    """The cell as a spreadsheet must receive it: a formula-like text with a leading single quote."""
    if value.__class__ is str and value and value[0] in FORMULA_START and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def inert_row(row: Iterable) -> list:
    """Most rows have no cell to change: one search over the joined texts, in C, says so."""
    row = list(row)
    try:
        if _SOME_START.search("\x00".join(filter(None, row))) is None:   # None and "" never change
            return row
    except TypeError:   # a number among the cells (split select multiples' 0/1)
        pass
    return [inert(cell) for cell in row]


def inert_rows(rows: Iterable[Iterable]) -> Iterator[list]:
    for row in rows:
        yield inert_row(row)
