"""One check for every untrusted .xlsx before openpyxl or pyxform unpacks it (zip bombs, broken files).

An .xlsx is a zip archive. The 10 MiB upload limit bounds the compressed bytes only: a 2 MB
workbook whose sheet1.xml holds 2 GiB of spaces took 24 s and 1.9 GB of one worker's memory to
parse. The archive's central directory declares each member's uncompressed size, and Python's
zipfile (which openpyxl reads through) never yields more than that declared size — a member that
inflates past it stops there and fails its CRC check. So checking the declared sizes before anything
is inflated bounds what the parser can be handed.

A workbook that passes the size checks is then read through once, in 1 MiB chunks, so a damaged or
cut-short archive (a member failing its CRC, a truncated download, `PK\\x03\\x04garbage`) is refused
here with one message for all three uploads, instead of surfacing later as openpyxl's BadZipFile (a
500) or pyxform's "not a supported type". That read is bounded by the limits just checked.

The limits are far above real workbooks: the 19 XLSForms of tests/data/corpus unpack to at most
3.6 MB, in at most 19 members, and their most compressed member is 30:1."""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class WorkbookLimits:
    # Everything the workbook unpacks to, all members together.
    total_bytes: int = 100 * MIB
    # Files inside the archive (a workbook has a dozen or two; each costs the parser a lookup).
    members: int = 1000
    # Uncompressed size over compressed size of one member, checked once the member passes
    # `ratio_from_bytes`: small members (styles, empty sheets) compress far better than data.
    ratio: int = 100
    ratio_from_bytes: int = 1 * MIB


LIMITS = WorkbookLimits()


class WorkbookTooLarge(ValueError):
    """The workbook would unpack past a limit; the message names the limit and what to do."""

    def __init__(self, message: str, limit: str, value: int):
        super().__init__(message)
        self.details = {"limit": limit, "value": value}


class WorkbookUnreadable(ValueError):
    """The upload is not an .xlsx that can be read: the message names what is wrong and what to do."""

    def __init__(self, problem: str):
        super().__init__(f"The file is not a readable .xlsx workbook: {problem}. Open it in Excel or LibreOffice and "
                         "save it again as an .xlsx workbook, then upload that file.")


# What zipfile raises for a damaged archive or member, besides BadZipFile.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError)


def check_workbook(data: bytes, limits: WorkbookLimits = LIMITS) -> None:
    """Raise WorkbookTooLarge if the .xlsx would unpack past `limits`, WorkbookUnreadable if it is not
    a zip archive or any member is damaged."""
    if not data.startswith(b"PK"):
        raise WorkbookUnreadable("it is not an .xlsx file at all (an .xlsx is a zip archive; a CSV or an old .xls "
                                 "is not)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _DAMAGED as exc:
        raise WorkbookUnreadable(f"its zip archive is damaged or cut short ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.members:
            raise WorkbookTooLarge(f"The workbook holds {len(members):,} files inside; a spreadsheet holds a few dozen "
                                   f"and this server accepts at most {limits.members:,}.", "members", len(members))
        total = 0
        for member in members:
            total += member.file_size
            if total > limits.total_bytes:
                raise WorkbookTooLarge(f"The workbook unpacks to more than {limits.total_bytes // MIB} MiB "
                                       f"(at least {total:,} bytes); this server accepts workbooks up to "
                                       f"{limits.total_bytes // MIB} MiB unpacked. Split it or remove unused sheets.",
                                       "total_bytes", total)
            if member.file_size >= limits.ratio_from_bytes:
                ratio = member.file_size / max(member.compress_size, 1)
                if ratio > limits.ratio:
                    raise WorkbookTooLarge(f"'{member.filename[:80]}' in the workbook unpacks {ratio:,.0f} times its "
                                           f"packed size; real spreadsheets stay under {limits.ratio}:1, so this "
                                           "file looks like a zip bomb and was not opened.", "ratio", round(ratio))
        for member in members:
            try:
                with archive.open(member) as packed:
                    while packed.read(MIB):
                        pass
            except _DAMAGED as exc:
                raise WorkbookUnreadable(f"'{member.filename[:80]}' inside it is damaged ({exc})") from None


def open_workbook(data: bytes, limits: WorkbookLimits = LIMITS):
    """openpyxl's read-only workbook over checked bytes; raises WorkbookTooLarge before unpacking,
    WorkbookUnreadable for a damaged archive or a zip that is not a workbook."""
    from openpyxl import load_workbook

    check_workbook(data, limits)
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises KeyError, InvalidFileException, XML errors…
        raise WorkbookUnreadable(f"it is a zip archive but not a spreadsheet ({exc.__class__.__name__})") from None
