"""Client audit logs (`<meta><audit>`, odk-protocol §6.1): each submission's audit.csv, merged into one
table of the CSV zip, `{xmlFormId} - audit.csv`, as Central writes it (lib/data/client-audits.js).

Central parses each log with csv-parse (options bom, trim, skip_empty_lines, relax_column_count,
relax_quotes); `AuditReader` reads the same text into the same rows, streaming, without csv-parse.
Where csv-parse gives up — an unclosed quote, text after a closing quote — Central's whole export
fails; here the reader keeps going (the text is kept in the field, as Python's csv module would) and
flags the file as malformed, so one broken phone log never costs a supervisor the download.

Pure functions over bytes: no database, no Flask."""
from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

# The columns Central keeps, in its order; any other column of a log is dropped from the export.
COLUMNS = ("event", "node", "start", "end", "latitude", "longitude", "accuracy", "old-value", "new-value",
           "user", "change-reason")
HEADER = ["instance ID", *COLUMNS]
_KNOWN = frozenset(COLUMNS)

# csv-parse 6 (Central's) skips these before a field and after a closing quote ...
LTRIM = " \t\r\n\f"
# ... and trims an unquoted field's end with JavaScript's trimRight, which knows every one of these.
JS_WHITESPACE = ("\t\n\v\f\r \u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
                 + "\u2028\u2029\u202f\u205f\u3000\ufeff")
_RUN_END = re.compile("[,\r\n]")
CHUNK = 256 * 1024


class AuditReader:
    """Records of one audit log, as csv-parse reads them with Central's options; `malformed` tells
    whether csv-parse would have failed on it."""

    def __init__(self) -> None:
        self.malformed = False
        self._delimiter: str | None = None     # the first line break outside quotes: \r\n, \n or \r
        self._record: list[str] = []
        self._field: list[str] = []
        self._quoting = False
        self._was_quoting = False              # the field was quoted and its closing quote read
        self._after_quote: list[str] = []      # blanks read since that closing quote
        self._carry = ""                       # a last character that needs the next one to be read

    def records(self, fp: BinaryIO) -> Iterator[list[str]]:
        """Every record of the file, the header first. Undecodable bytes become U+FFFD, as Node's do."""
        head = fp.read(max(CHUNK, 2))
        encoding = "utf-16" if head.startswith(codecs.BOM_UTF16_LE) else "utf-8-sig"   # csv-parse's `bom`
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        data = head
        while data:
            yield from self._feed(decoder.decode(data), final=False)
            data = fp.read(CHUNK)
        yield from self._feed(decoder.decode(b"", final=True), final=True)

    # --- the state machine -------------------------------------------------------------------------

    def _end_field(self) -> None:
        text = "".join(self._field)
        self._record.append(text if self._was_quoting else text.rstrip(JS_WHITESPACE))
        self._field = []
        self._was_quoting = False
        self._after_quote = []

    def _end_record(self) -> list[str] | None:
        """The record a line break ends, or None for an empty line (skip_empty_lines)."""
        if not self._record and not self._field and not self._was_quoting:
            return None
        self._end_field()
        record, self._record = self._record, []
        return record

    def _line_break(self, text: str, i: int) -> int:
        """The length of the record delimiter at text[i] (0: none), choosing it on first sight."""
        if self._delimiter is None:
            if text.startswith("\r\n", i):
                self._delimiter = "\r\n"
            elif text[i] in "\r\n":
                self._delimiter = text[i]
            else:
                return 0
        return len(self._delimiter) if text.startswith(self._delimiter, i) else 0

    def _fast_line(self, text: str, i: int, delimiter: str) -> tuple[list[str] | None, int] | None:
        """A whole line without quotes from i, split at once (most lines of a log are such); only once
        the first line break has chosen the delimiter."""
        end = text.find(delimiter, i)
        if end < 0:
            return None
        line = text[i:end]
        if '"' in line:
            return None
        after = end + len(delimiter)
        if "," not in line and not line.lstrip(LTRIM):
            return None, after
        return [f.lstrip(LTRIM).rstrip(JS_WHITESPACE) for f in line.split(",")], after

    def _feed(self, chunk: str, final: bool) -> Iterator[list[str]]:
        text = self._carry + chunk
        self._carry = ""
        n = len(text)
        i = 0
        while i < n:
            if self._quoting:
                q = text.find('"', i)
                if q < 0:
                    self._field.append(text[i:])
                    break
                self._field.append(text[i:q])
                if q + 1 >= n and not final:
                    self._carry = '"'          # an escaped quote or the closing one: the next character says
                    break
                after = text[q + 1] if q + 1 < n else ""
                if after == '"':
                    self._field.append('"')
                    i = q + 2
                elif after in ("", ",") or after in LTRIM:
                    self._quoting, self._was_quoting = False, True
                    i = q + 1
                else:
                    # csv-parse: "Invalid Closing Quote". Keep reading the rest as part of the field.
                    self.malformed = True
                    self._quoting = False
                    i = q + 1
                continue
            c = text[i]
            if c == "\r" and i + 1 >= n and not final:
                self._carry = c                # \r or the start of \r\n
                break
            if not self._record and not self._field and not self._was_quoting and self._delimiter:
                found = self._fast_line(text, i, self._delimiter)
                if found is not None:
                    record, i = found
                    if record is not None:
                        yield record
                    continue
            if c in "\r\n":
                size = self._line_break(text, i)
                if size:
                    record = self._end_record()
                    if record is not None:
                        yield record
                    i += size
                    continue
            if c == ",":
                self._end_field()
                i += 1
                continue
            if self._was_quoting:
                if c in LTRIM:
                    self._after_quote.append(c)
                    i += 1
                    continue
                # csv-parse: "found non trimable byte after quote". The text, blanks and all, joins the field.
                self.malformed = True
                self._was_quoting = False
                self._field += self._after_quote
            elif not self._field:
                if c in LTRIM:
                    i += 1
                    continue
                if c == '"':
                    self._quoting = True
                    i += 1
                    continue
            # Plain text up to the next comma or line break; a quote inside it is kept (relax_quotes).
            m = _RUN_END.search(text, i + 1)
            end = m.start() if m else n
            self._field.append(text[i:end])
            i = end
        if final:
            if self._quoting:
                self.malformed = True          # csv-parse: "Quote Not Closed"; the field ends with the file
                self._quoting, self._was_quoting = False, True
            if self._record or self._field or self._was_quoting:
                self._end_field()
                record, self._record = self._record, []
                yield record


def audit_rows(instance_id: str, fp: BinaryIO) -> tuple[Iterator[list], AuditReader]:
    """The rows one submission's log adds to the merged file: its instance ID, then Central's columns
    picked by the log's own header (unknown columns dropped, missing ones empty, extra cells ignored)."""
    reader = AuditReader()

    def rows() -> Iterator[list]:
        records = reader.records(fp)
        names = next(records, None)
        if names is None:
            return
        picks = [(i, name) for i, name in enumerate(names) if name in _KNOWN]
        for record in records:
            found = {name: record[i] for i, name in picks if i < len(record)}
            yield [instance_id, *(found.get(c) for c in COLUMNS)]
    return rows(), reader


def missing_row(instance_id: str) -> list:
    """Central's row for a log the submission names but that has not been received: the instance ID alone."""
    return [instance_id] + [None] * len(COLUMNS)


def merged(logs: Iterable[tuple[str, Callable[[], BinaryIO] | None]], on_malformed=None) -> Iterator[list]:
    """Central's `{xmlFormId} - audit.csv` rows, header first, from each log's (instance ID, a function
    that opens it, or None when it has not been received). `on_malformed(instance_id)` hears of each
    log csv-parse would have refused."""
    yield HEADER
    for instance_id, opener in logs:
        if opener is None:
            yield missing_row(instance_id)
            continue
        with opener() as fp:
            rows, reader = audit_rows(instance_id, fp)
            yield from rows
        if reader.malformed and on_malformed is not None:
            on_malformed(instance_id)
