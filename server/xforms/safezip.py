"""One check for every untrusted .xlsx before openpyxl or pyxform unpacks it (zip bombs).

An .xlsx is a zip archive. The 10 MiB upload limit bounds the compressed bytes only: a 2 MB
workbook whose sheet1.xml holds 2 GiB of spaces took 24 s and 1.9 GB of one worker's memory to
parse. The archive's central directory declares each member's uncompressed size, and Python's
zipfile (which openpyxl reads through) never yields more than that declared size — a member that
inflates past it stops there and fails its CRC check. So checking the declared sizes before parsing
bounds what the parser can be handed, without inflating anything here.

The limits are far above real workbooks: the 19 XLSForms of tests/data/corpus unpack to at most
3.6 MB, in at most 19 members, and their most compressed member is 30:1."""
from __future__ import annotations

import io
import zipfile
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


def check_workbook(data: bytes, limits: WorkbookLimits = LIMITS) -> None:
    """Raise WorkbookTooLarge if the .xlsx would unpack past `limits`. Not a zip at all: left to the
    caller's parser, which says what it expected."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        return
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


def open_workbook(data: bytes, limits: WorkbookLimits = LIMITS):
    """openpyxl's read-only workbook over checked bytes; raises WorkbookTooLarge before unpacking."""
    from openpyxl import load_workbook

    check_workbook(data, limits)
    return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
