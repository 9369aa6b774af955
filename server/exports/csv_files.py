"""Central's CSV files: `submissions.csv.zip` (every table, media) and `submissions.csv` (the root).

Dialect as csv-stringify writes it for Central: commas, quotes only where needed, `\\n` after every
row, no BOM (unless asked for, so that Excel reads Vietnamese right), the header even with no rows."""
from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator

from sqlalchemy import Engine

from server.exports import source
from server.exports.plan import sanitize_file_name
from server.exports.tables import Export, header, make_plans, repeat_table, root_table
from server.exports.zipstream import ZipStream
from server.models.blobs import BlobStore

ROWS_PER_CHUNK = 2000


def csv_bytes(head: list[str], rows: Iterable[list], bom: bool = False) -> Iterator[bytes]:
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


def connect(engine: Engine):
    """A connection of the export's own, outside the request's session: the response streams after
    the request handler returns. On PostgreSQL one snapshot serves every table of the archive."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def zip_chunks(engine: Engine, store: BlobStore, export: Export, media: bool, bom: bool = False) -> Iterator[bytes]:
    with connect(engine) as conn:
        plans = make_plans(conn, export)
        archive = ZipStream()
        yield from archive.entry(export.root.file_name, csv_bytes(header(export, export.root),
                                                                  root_table(conn, export), bom))
        for plan in plans[1:]:
            yield from archive.entry(plan.file_name, csv_bytes(header(export, plan),
                                                               repeat_table(conn, export, plan), bom))
        if media:
            # Central names each file media/<sanitized name>. Where two submissions hold files of one
            # name Central writes both entries under that name; here the first one written is kept.
            seen: set[str] = set()
            for name, sha in source.attachment_blobs(conn, export.tables, export.selection):
                name = sanitize_file_name(name)
                if name in seen:
                    continue
                seen.add(name)
                with store.open(sha) as fp:
                    yield from archive.file(f"media/{name}", fp)
            if export.decryptor is not None:
                # Decrypted files go in under their own names, without .enc, as Central writes them.
                from server.exports.decrypted import encrypted_in_order

                for submission_id, _, _ in list(encrypted_in_order(conn, export.selection, export.tables)):
                    opened, _ = export.decryptor.open(conn, submission_id)
                    for name, data in (export.decryptor.last_media.items() if opened is not None else ()):
                        name = sanitize_file_name(name)
                        if name not in seen:
                            seen.add(name)
                            yield from archive.entry(f"media/{name}", [data])
        yield from archive.finish()


def root_csv_chunks(engine: Engine, export: Export, bom: bool = False) -> Iterator[bytes]:
    with connect(engine) as conn:
        make_plans(conn, export)
        yield from csv_bytes(header(export, export.root), root_table(conn, export), bom)
