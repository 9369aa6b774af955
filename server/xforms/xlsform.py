"""XLSForm → XForm with pyxform, and the deeper check by ODK Validate when Java is present."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLS_TYPE = "application/vnd.ms-excel"


class XlsFormError(ValueError):
    """pyxform refused the workbook; `details` carries the sheet and row when pyxform names them."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


@dataclass
class Conversion:
    xml: str
    warnings: list[str]
    itemsets_csv: str | None = None
    file_type: str = "xlsx"


@dataclass
class ValidateResult:
    status: str  # "passed", "failed", "skipped"
    message: str
    errors: list[str] = field(default_factory=list)


def sniff(data: bytes) -> str | None:
    """What the upload really is — by content, since names and content types lie (a BIFF .xls named .xlsx)."""
    if data.startswith(XLSX_MAGIC):
        return "xlsx"
    if data.startswith(XLS_MAGIC):
        return "xls"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "xml"
    return None


_ROW = re.compile(r"\[row\s*:\s*(\d+)\]", re.I)
_ROW2 = re.compile(r"\brow (\d+)\b", re.I)
_SHEET = re.compile(r"'(survey|choices|settings|external_choices|entities)' sheet|(survey|choices|settings|external_choices|entities) sheet", re.I)


def locate(message: str) -> dict:
    """Sheet and row that a pyxform message points at, when it says so."""
    details: dict = {}
    m = _ROW.search(message) or _ROW2.search(message)
    if m:
        details["row"] = int(m.group(1))
    s = _SHEET.search(message)
    if s:
        details["sheet"] = (s.group(1) or s.group(2)).lower()
    elif "row" in details:
        details["sheet"] = "survey"
    return details


def convert(data: bytes, file_type: str, fallback_id: str | None) -> Conversion:
    """Convert an XLS or XLSX workbook. Raises XlsFormError with pyxform's own message.

    pyxform takes the form ID from the settings sheet, else from the file name, so the workbook is
    written under the fallback ID (X-XlsForm-FormId-Fallback, or the uploaded file's stem). An .xlsx
    that would unpack past the workbook limits raises WorkbookTooLarge before pyxform opens it."""
    from pyxform.xls2xform import convert as pyxform_convert

    from server.xforms.safezip import check_workbook

    if file_type == "xlsx":
        check_workbook(data)

    stem = re.sub(r"[^\w.:-]", "_", fallback_id or "")[:200].strip(".") or "data"
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hamlet-xlsform-") as tmp:
        path = os.path.join(tmp, f"{stem}.{file_type}")
        with open(path, "wb") as f:
            f.write(data)
        try:
            result = pyxform_convert(xlsform=path, warnings=warnings, validate=False, pretty_print=True)
        except Exception as exc:  # noqa: BLE001 pyxform raises PyXFormError, but also ValueError/KeyError on odd workbooks
            message = str(exc).strip().replace(path, f"{stem}.{file_type}") or exc.__class__.__name__
            raise XlsFormError(message, {"error": message, **locate(message)}) from None
    return Conversion(xml=result.xform, warnings=list(result.warnings or warnings),
                      itemsets_csv=result.itemsets, file_type=file_type)


def java_available() -> bool:
    return shutil.which("java") is not None


def odk_validate(xml: str, mode: str = "auto") -> ValidateResult:
    """Run the ODK Validate jar that ships with pyxform (JavaRosa), if Java is installed."""
    if mode == "off":
        return ValidateResult("skipped", "ODK Validate is turned off on this server (HAMLET_ODK_VALIDATE=off); only pyxform's checks ran.")
    if not java_available():
        return ValidateResult("skipped", "Java is not installed, so ODK Validate (the deeper JavaRosa check) was skipped; only pyxform's checks ran.")
    from pyxform.validators.odk_validate import ODKValidateError, check_xform

    fd, path = tempfile.mkstemp(suffix=".xml", prefix="hamlet-validate-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(xml)
        try:
            check_xform(path)
        except ODKValidateError as exc:
            stem = os.path.splitext(os.path.basename(path))[0]
            text = str(exc).replace(path, "form.xml").replace("${" + stem + "}", "form").replace(stem, "form")
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            return ValidateResult("failed", "ODK Validate found errors: " + " ".join(lines), lines)
        return ValidateResult("passed", "ODK Validate passed.")
    finally:
        os.unlink(path)
