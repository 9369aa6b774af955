"""Central's CSV files: `submissions.csv.zip` (every table, media) and `submissions.csv` (the root).

Dialect as csv-stringify writes it for Central: commas, quotes only where needed, `\\n` after every
row, no BOM (unless asked for, so that Excel reads Vietnamese right), the header even with no rows."""
from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import chain
from typing import BinaryIO

from sqlalchemy import Engine

from server.exports import copy_csv, source
from server.exports.client_audits import merged as client_audit_rows
from server.exports.plan import sanitize_file_name
from server.exports.spreadsheet import inert_row, inert_rows
from server.exports.tables import Export, header, make_plans, repeat_table, root_table
from server.exports.zipstream import ZipStream
from server.models.blobs import BlobStore

ROWS_PER_CHUNK = 2000
# A decrypted submission's client audit log: audit.csv.enc without its .enc (source.ENCRYPTED_CLIENT_AUDIT).
CLIENT_AUDIT_FILE = source.ENCRYPTED_CLIENT_AUDIT[: -len(".enc")]
log = logging.getLogger("hamlet")


def csv_bytes(head: list[str], rows: Iterable[list], bom: bool = False, spreadsheet: bool = False,
              inert_cells: bool = False) -> Iterator[bytes]:
    """The CSV text in chunks. A BOM, or `spreadsheet` (labels, the person table), marks a file meant
    for Excel: its formulas are made inert (server/exports/spreadsheet.py). Central's own format has
    neither and is written as Central writes it. `inert_cells`: the caller made every cell inert."""
    if (bom or spreadsheet) and not inert_cells:
        head, rows = inert_row(head), inert_rows(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if bom:
        buf.write("\ufeff")
    writer.writerow(head)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
        if n == ROWS_PER_CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
            n = 0
    yield buf.getvalue().encode("utf-8")


def line_chunks(lines: Iterable[str]) -> Iterator[bytes]:
    """CSV lines already written, ROWS_PER_CHUNK a chunk."""
    parts: list[str] = []
    for line in lines:
        parts.append(line)
        if len(parts) == ROWS_PER_CHUNK:
            yield "".join(parts).encode("utf-8")
            parts.clear()
    if parts:
        yield "".join(parts).encode("utf-8")


def connect(engine: Engine):
    """A connection of the export's own, outside the request's session: the response streams after
    the request handler returns. On PostgreSQL one snapshot serves every table of the archive."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


class MediaNames:
    """Names of the files under media/, never the same twice in one archive.

    Central writes every file as media/<sanitized name>, so two submissions' `1.jpg` (or two names that
    sanitize alike) become two entries of one name, and unzipping keeps only one of them. Here the
    first file written keeps the plain name (the newest submission's: files follow the rows' order);
    the same bytes again under that name are not written twice; a different file of that name goes
    under a folder named after its submission, media/<instance ID>/1.jpg (the instance ID sanitized
    as file names are: uuid:… becomes uuid…), numbered `1 (2).jpg` in the unlikely case that is
    taken too. Names are compared as a case-insensitive file system (Windows, macOS) compares them."""

    def __init__(self) -> None:
        self._taken: dict[str, str] = {}      # casefolded name under media/ -> the file's digest (a prefix)

    def claim(self, name: str, instance_id: str, digest: str) -> str | None:
        """The archive entry for this file, or None when the same bytes are already in under its name."""
        mark = digest[:16]
        for candidate in self._candidates(sanitize_file_name(name) or "attachment", instance_id):
            held = self._taken.get(candidate.casefold())
            if held is None:
                self._taken[candidate.casefold()] = mark
                return f"media/{candidate}"
            if held == mark:
                return None
        raise AssertionError("the candidates never run out")

    @staticmethod
    def _candidates(base: str, instance_id: str) -> Iterator[str]:
        yield base
        folder = sanitize_file_name(instance_id) or "submission"
        yield f"{folder}/{base}"
        stem, dot, extension = base.rpartition(".")
        if not stem:
            stem, dot, extension = base, "", ""
        n = 2
        while True:
            yield f"{folder}/{stem} ({n}){dot}{extension}"
            n += 1


def _client_audit_logs(conn, store: BlobStore, export: Export) -> Iterator[tuple[str, Callable[[], BinaryIO] | None]]:
    """(instance ID, a function opening the log, or None when it has not been received) of each client
    audit log, in Central's order; encrypted submissions' logs only with a key, decrypted."""
    decryptor = export.decryptor
    found: Iterable[tuple[int, str, bool, str | None]] = source.client_audit_logs(
        conn, export.tables, export.selection, encrypted=decryptor is not None)
    if decryptor is not None:
        found = list(found)   # decrypting reads the database: not while this query streams on the connection
    for submission_id, instance_id, encrypted, sha in found:
        if sha is None:
            yield instance_id, None
        elif not encrypted:
            yield instance_id, partial(store.open, sha)
        elif decryptor is not None:   # always, as encrypted logs are only listed with a key
            opened, _ = decryptor.open(conn, submission_id)
            data = decryptor.last_media.get(CLIENT_AUDIT_FILE) if opened is not None else None
            if data is None:
                log.warning("The client audit log of %s could not be decrypted; it is left out of the export.",
                            instance_id)
                continue
            yield instance_id, partial(io.BytesIO, data)


def _malformed(instance_id: str) -> None:
    log.warning("The client audit log of %s is not well-formed CSV; it was exported as far as it could be read.",
                instance_id)


def zip_chunks(engine: Engine, store: BlobStore, export: Export, media: bool, bom: bool = False,
               client_audits: bool | None = None, spreadsheet: bool = False) -> Iterator[bytes]:
    """The archive: every table, then `{form} - audit.csv` when the submissions carry client audit logs,
    then media/. Central writes the audit file only with the media (`attachments=false` has neither);
    `client_audits` says otherwise for callers of Hamlet's own (the CLI)."""
    if client_audits is None:
        client_audits = media
    with connect(engine) as conn:
        plans = make_plans(conn, export)
        archive = ZipStream()
        yield from archive.entry(export.root.file_name, _root_file(conn, export, bom, spreadsheet))
        by_database = copy_csv.usable(conn, export, bom, spreadsheet)
        for plan in plans[1:]:
            if by_database and plan.repeat_path in export.tables.repeats:
                chunks = copy_csv.copy_chunks(conn, header(export, plan), copy_csv.repeat_select(export, plan))
            else:
                chunks = csv_bytes(header(export, plan), repeat_table(conn, export, plan), bom, spreadsheet)
            yield from archive.entry(plan.file_name, chunks)
        if client_audits:
            logs = _client_audit_logs(conn, store, export)
            first = next(logs, None)
            if first is not None:   # Central adds the file as the first log comes, even an empty one
                rows = client_audit_rows(chain([first], logs), on_malformed=_malformed)
                name = sanitize_file_name(f"{export.form.xml_form_id} - audit.csv")
                yield from archive.entry(name, csv_bytes(next(rows), rows, bom, spreadsheet))
        if media:
            names = MediaNames()
            for name, sha, instance_id in source.attachment_blobs(conn, export.tables, export.selection):
                entry = names.claim(name, instance_id, sha)
                if entry is None:
                    continue
                with store.open(sha) as fp:
                    yield from archive.file(entry, fp)
            if export.decryptor is not None:
                # Decrypted files go in under their own names, without .enc, as Central writes them; the
                # client audit log is in its own file.
                from server.exports.decrypted import encrypted_in_order

                for submission_id, instance_id, _ in list(encrypted_in_order(conn, export.selection, export.tables)):
                    opened, _ = export.decryptor.open(conn, submission_id)
                    for name, data in (export.decryptor.last_media.items() if opened is not None else ()):
                        if name == CLIENT_AUDIT_FILE:
                            continue
                        entry = names.claim(name, instance_id, hashlib.sha256(data).hexdigest())
                        if entry is not None:
                            yield from archive.entry(entry, [data])
        yield from archive.finish()


def root_csv_chunks(engine: Engine, export: Export, bom: bool = False, spreadsheet: bool = False) -> Iterator[bytes]:
    with connect(engine) as conn:
        make_plans(conn, export)
        yield from _root_file(conn, export, bom, spreadsheet)


def _root_file(conn, export: Export, bom: bool, spreadsheet: bool) -> Iterator[bytes]:
    """The root table's CSV: written by PostgreSQL when it can write it as Central does (copy_csv.py)."""
    if copy_csv.usable(conn, export, bom, spreadsheet):
        return copy_csv.copy_chunks(conn, header(export, export.root), copy_csv.root_select(export))
    return csv_bytes(header(export, export.root), root_table(conn, export), bom, spreadsheet)
