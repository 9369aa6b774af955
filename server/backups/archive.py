"""A backup's contents and how they are taken and put back: a consistent copy of the database (SQLite's
online backup API; PostgreSQL's `pg_dump` on an exported snapshot) and every blob that copy names, in
one tar stream sealed by `server.backups.sealed`.

The archive holds, in order: `manifest.json`, the database (`database.sqlite3` or `database.pgdump`),
then `blobs/<sha256>` for each blob. A restore writes nothing it has not authenticated, puts the blobs
in place first and the database last, and leaves an empty target empty again when it fails.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO, cast

from sqlalchemy import create_engine, inspect, make_url, text

from server.backups.sealed import DamagedArchive, SealedReader, SealedWriter, SealError
from server.models.blobs import CHUNK, BlobStore

FORMAT = "hamlet-backup"
VERSION = 1
Progress = Callable[[int], None]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what to do."""


class TargetNotEmpty(BackupError):
    pass


@dataclass(frozen=True)
class Summary:
    database: str
    revision: str | None
    blobs: int
    blob_bytes: int
    database_bytes: int


def _libpq_url(database_url: str) -> str:
    """The URL `pg_dump` and psycopg take: SQLAlchemy's without its driver name."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_tool(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL a PostgreSQL tool gets on its command line, without the password (every local user can
    read a process's arguments), and the environment that carries the password instead."""
    url = make_url(database_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url._replace(password=None).render_as_string(hide_password=False), env


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _dump_sqlite(database_url: str, into: Path) -> list[tuple[str, int]]:
    source = sqlite3.connect(_sqlite_path(database_url))
    target = sqlite3.connect(into)
    try:
        source.backup(target)  # one consistent copy, while the server goes on writing
        target.execute("PRAGMA journal_mode=DELETE")  # the copy stands alone, without a -wal file
        return [(sha, int(size)) for sha, size in target.execute("SELECT sha256, size FROM blobs ORDER BY sha256")]
    finally:
        target.close()
        source.close()


def _dump_postgresql(database_url: str, into: Path) -> list[tuple[str, int]]:
    """`pg_dump` reads the snapshot this transaction exported, so the blob list is of the same moment."""
    import psycopg

    url = _libpq_url(database_url)
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        tool_url, env = _pg_tool(database_url)
        done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                               f"--snapshot={snapshot}", f"--file={into}", f"--dbname={tool_url}"],
                              capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        rows = conn.execute("SELECT sha256, size FROM blobs ORDER BY sha256").fetchall()
        conn.rollback()
    return [(sha, int(size)) for sha, size in rows]


def _revision(database_url: str) -> str | None:
    with _engine(database_url) as engine, engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


class _Reading:
    """A file read for the archive, in either direction: what passes moves the progress bar and is hashed,
    so a backup also verifies the store."""

    def __init__(self, f: IO[bytes] | None, progress: Progress | None):
        if f is None:
            raise DamagedArchive("the backup holds an entry that is not a file")
        self.f, self.progress, self.sha = f, progress, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.sha.update(data)
        if self.progress:
            self.progress(len(data))
        return data


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(datetime.now(UTC).timestamp())
    return info


def plan_size(database_url: str, store: BlobStore) -> int:
    """Roughly how many bytes a backup will read, for a progress bar: the database and the blobs."""
    with _engine(database_url) as engine, engine.connect() as conn:
        if database_url.startswith("sqlite"):
            size = _sqlite_path(database_url).stat().st_size
        else:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
        size += conn.execute(text("SELECT coalesce(sum(size), 0) FROM blobs")).scalar() or 0
    return int(size)


@contextmanager
def _engine(database_url: str):
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def write_backup(database_url: str, store: BlobStore, out: BinaryIO, passphrase: bytes,
                 progress: Progress | None = None) -> Summary:
    """Seal one consistent copy of the database and every blob it names into `out`."""
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with tempfile.TemporaryDirectory(prefix="hamlet-backup-") as tmp:
        dump = Path(tmp) / ("database.sqlite3" if dialect == "sqlite" else "database.pgdump")
        blobs = _dump_sqlite(database_url, dump) if dialect == "sqlite" else _dump_postgresql(database_url, dump)
        revision = _revision(f"sqlite:///{dump}") if dialect == "sqlite" else _revision(database_url)
        dump_bytes = dump.stat().st_size
        manifest = {"format": FORMAT, "version": VERSION, "created": datetime.now(UTC).isoformat(),
                    "database": dialect, "revision": revision, "blobs": len(blobs),
                    "blobBytes": sum(size for _, size in blobs), "databaseBytes": dump.stat().st_size}
        sealed = SealedWriter(out, passphrase)
        with tarfile.open(fileobj=sealed, mode="w|", bufsize=CHUNK) as tar:  # type: ignore[call-overload]
            body = json.dumps(manifest, indent=1).encode()
            tar.addfile(_member("manifest.json", len(body)), io.BytesIO(body))
            with open(dump, "rb") as db_file:
                tar.addfile(_member(dump.name, dump.stat().st_size), _Reading(db_file, progress))
            for sha, size in blobs:
                try:
                    f = store.open(sha)
                except FileNotFoundError:
                    raise BackupError(f"blob {sha} is in the database but missing from {store.describe()}; "
                                      "the store has lost a file") from None
                with f:
                    reader = _Reading(f, progress)
                    tar.addfile(_member(f"blobs/{sha}", size), cast(IO[bytes], reader))
                if reader.sha.hexdigest() != sha:
                    raise BackupError(f"blob {sha} in the store no longer matches its hash; the file is damaged")
        sealed.close()
    return Summary(dialect, revision, len(blobs), sum(size for _, size in blobs), dump_bytes)


def check_empty_target(database_url: str, store: BlobStore) -> None:
    """A restore never mixes with existing data: the database has no tables and the store no blobs."""
    if database_url.startswith("sqlite"):
        path = _sqlite_path(database_url)
        tables = _tables(database_url) if path.exists() and path.stat().st_size else []
    else:
        tables = _tables(database_url)
    if tables:
        raise TargetNotEmpty(f"the database is not empty (it has {len(tables)} tables, e.g. {sorted(tables)[0]}); "
                             "restore into a new, empty database")
    if not store.is_empty():
        raise TargetNotEmpty(f"the blob store ({store.describe()}) already holds files; "
                             "restore into an empty data directory or bucket")


def _tables(database_url: str) -> list[str]:
    with _engine(database_url) as engine, engine.connect() as conn:
        return inspect(conn).get_table_names()


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from server.cli import alembic_config

    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    try:
        yield from tar
    except tarfile.TarError as exc:
        raise DamagedArchive(f"the backup's contents are damaged ({exc})") from None


def read_backup(database_url: str, store: BlobStore, src: BinaryIO, passphrase: bytes,
                progress: Progress | None = None) -> Summary:
    """Restore a sealed backup into an empty database and blob store; on any failure, leave them empty."""
    sealed = SealedReader(src, passphrase)
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hamlet-restore-") as tmp:
        try:
            with tarfile.open(fileobj=sealed, mode="r|", bufsize=CHUNK) as tar:  # type: ignore[call-overload]
                members = _members(tar)
                manifest = _read_manifest(tar, next(members, None), dialect)
                check_empty_target(database_url, store)
                dump_info = next(members, None)
                expected = "database.sqlite3" if dialect == "sqlite" else "database.pgdump"
                if dump_info is None or dump_info.name != expected:
                    raise DamagedArchive("the backup's database copy is missing")
                dump = Path(tmp) / expected
                with open(dump, "wb") as out:
                    _copy(tar.extractfile(dump_info), out, progress)
                for info in members:
                    if not info.name.startswith("blobs/") or not info.isfile():
                        raise DamagedArchive(f"the backup holds an unexpected entry {info.name!r}")
                    sha = info.name.removeprefix("blobs/")
                    digest, _md5, _size = store.put_stream(cast(IO[bytes], _Reading(tar.extractfile(info), progress)))
                    written.append(digest)
                    if digest != sha:
                        raise DamagedArchive(f"blob {sha} in the backup does not match its hash")
            sealed.read_to_end()
            if len(written) != manifest["blobs"]:
                raise DamagedArchive(f"the backup names {manifest['blobs']} blobs but holds {len(written)}")
            if dialect == "sqlite":
                _restore_sqlite(dump, database_url)
            else:
                _restore_postgresql(dump, database_url)
        except BaseException:
            for sha in written:  # the target was empty: leave it so, as far as the store lets us
                try:
                    store.delete(sha)
                except Exception:  # noqa: BLE001 — the original error is the one to report
                    continue
            raise
    return Summary(dialect, manifest["revision"], len(written), int(manifest["blobBytes"]),
                   int(manifest["databaseBytes"]))


def _read_manifest(tar: tarfile.TarFile, info: tarfile.TarInfo | None, dialect: str) -> dict:
    if info is None or info.name != "manifest.json":
        raise DamagedArchive("the backup's manifest is missing")
    manifest = json.loads(tar.extractfile(info).read())  # type: ignore[union-attr]
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise DamagedArchive("the backup's manifest is not one this Hamlet reads")
    if manifest["database"] != dialect:
        raise BackupError(f"this backup is of a {manifest['database']} database; restore it into {manifest['database']} "
                          f"(HAMLET_DATABASE_URL points at {dialect})")
    if manifest["revision"] is not None and manifest["revision"] not in _known_revisions():
        raise BackupError(f"this backup was made by a newer Hamlet (database revision {manifest['revision']}); "
                          "restore it with that version or a later one")
    return manifest


def _copy(f: IO[bytes] | None, out: BinaryIO, progress: Progress | None) -> None:
    shutil.copyfileobj(_Reading(f, progress), out, CHUNK)


def _restore_sqlite(dump: Path, database_url: str) -> None:
    target = _sqlite_path(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump, partial)
    os.replace(partial, target)


def _restore_postgresql(dump: Path, database_url: str) -> None:
    tool_url, env = _pg_tool(database_url)
    done = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                           f"--dbname={tool_url}", str(dump)], capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed, nothing was restored: {done.stderr.strip()}")


__all__ = ["BackupError", "DamagedArchive", "SealError", "Summary", "TargetNotEmpty", "check_empty_target",
           "plan_size", "read_backup", "write_backup"]
