"""Writing an XLSForm workbook that comes out byte for byte the same each time it is built.

The build scripts (`python xlsforms/build_X.py`) import this module from their own folder, so it
must be imported before openpyxl: openpyxl serialises XML differently with and without lxml
installed, and its stdlib writer is chosen here so that every environment produces the same bytes.
"""
from __future__ import annotations

import datetime
import io
import os
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

os.environ["OPENPYXL_LXML"] = "False"

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.writer.excel import ExcelWriter

VI = "Tiếng Việt (vi)"
EN = "English (en)"

# A fixed moment for the workbook's document properties and the zip entries' timestamps.
FIXED_TIME = datetime.datetime(2026, 11, 23, 0, 0, 0)

# Columns that carry a Vietnamese and an English text (`label::Tiếng Việt (vi)`, `label::English (en)`).
TRANSLATED = ("label", "hint", "constraint_message", "required_message")


def nfc(value: str) -> str:
    """The text unchanged, checked to be NFC: Collect matches choice names byte for byte."""
    out = unicodedata.normalize("NFC", value)
    assert out == value, f"not NFC: {value!r}"
    return out


def sheet(wb: Workbook, title: str, header: list[str], rows: list[list[str]], widths: dict[str, int]) -> None:
    """A sheet with a bold, frozen header, columns sized by `widths` and translated texts wrapped."""
    ws = wb.create_sheet(title)
    ws.append(header)
    for row in rows:
        ws.append([cell if cell != "" else None for cell in row])
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "A2"
    wrap = Alignment(wrap_text=True, vertical="top")
    for i, name in enumerate(header, start=1):
        letter = ws.cell(row=1, column=i).column_letter
        base = name.split("::")[0]
        ws.column_dimensions[letter].width = widths.get(base, 18)
        if base in TRANSLATED:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.alignment = wrap


def fix_properties(wb: Workbook, title: str | None = None) -> None:
    """Fixed document properties, so that openpyxl does not stamp the build's time and user."""
    props = wb.properties
    props.creator = "Hamlet"
    props.lastModifiedBy = "Hamlet"
    if title is not None:
        props.title = title
    props.created = FIXED_TIME
    props.modified = FIXED_TIME


def workbook_bytes(wb: Workbook) -> bytes:
    """Serialise without openpyxl's "modified = now", then re-zip with fixed timestamps."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def write(build_workbook: Callable[[], Workbook], output: Path, argv: list[str]) -> int:
    """A build script's main: the workbook at `output`, or at the path given as the first argument."""
    target = Path(argv[1]) if len(argv) > 1 else output
    target.write_bytes(workbook_bytes(build_workbook()))
    print(f"wrote {target}")
    return 0

