"""Content-addressed file storage: bytes under HAMLET_DATA_DIR, one row per distinct content."""
from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import BigInteger, String, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base

CHUNK = 1024 * 1024
# A new file only: never follow a link, never open one already there.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _link_once(tmp: Path, final: Path) -> None:
    """Give the whole file its final name unless a file already has it: the same bytes, as names are
    hashes, which are then left as they are (a reader elsewhere keeps its file)."""
    with contextlib.suppress(FileExistsError):
        os.link(tmp, final)


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)


def copy_hashed(stream: IO[bytes], out: IO[bytes], limit: int | None) -> tuple[str, str, int]:
    """Copy `stream` into `out`, hashing as it goes: (sha256, md5, size). ValueError past `limit`."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            raise ValueError(f"file is larger than {limit} bytes")
        sha.update(chunk)
        md5.update(chunk)
        out.write(chunk)
    return sha.hexdigest(), md5.hexdigest(), size


class BlobStore:
    """Where blobs live, named by SHA-256: a local directory (the default) or an S3-compatible bucket
    (`server/models/s3_blobs.py`). Each file is written once, and becomes visible only whole."""

    def put_stream(self, stream: IO[bytes], limit: int | None = None) -> tuple[str, str, int]:
        """Copy a stream into the store; returns (sha256, md5, size). Raises ValueError past `limit`."""
        raise NotImplementedError

    def put_bytes(self, data: bytes) -> tuple[str, str, int]:
        import io

        return self.put_stream(io.BytesIO(data))

    def open(self, sha256: str) -> BinaryIO:
        """A stream of the blob's bytes, read as they are needed; FileNotFoundError when absent."""
        raise NotImplementedError

    def local_path(self, sha256: str) -> Path | None:
        """The file on this machine's disk, when the store is a directory (sent with sendfile)."""
        return None

    def delete(self, sha256: str) -> None:
        """Only for undoing a failed restore into an empty store; blobs are otherwise never removed."""
        raise NotImplementedError

    def is_empty(self) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class LocalBlobStore(BlobStore):
    """Bytes under HAMLET_DATA_DIR/blobs: temp file, fsync, rename, so a half-written file is never seen."""

    def __init__(self, root: Path):
        self.root = Path(root) / "blobs"

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(self, stream: IO[bytes], limit: int | None = None) -> tuple[str, str, int]:
        # Intake stores every photo this way, so each step is the cheapest that is still safe: folders are
        # made only when a call finds them missing (pathlib's mkdir before every file, an exists() and
        # mkstemp cost 0.14-0.7 ms of a photo's 0.8-1.5 ms, bench/README.md, session 9).
        tmp = self.root / f".incoming-{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp, _NEW_FILE, 0o600)
        except FileNotFoundError:   # the store's first file
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, _NEW_FILE, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                digest, md5_hex, size = copy_hashed(stream, out, limit)
                out.flush()
                os.fsync(out.fileno())
            final = self.path_for(digest)
            try:
                _link_once(tmp, final)
            except FileNotFoundError:   # the first file of its folder
                final.parent.mkdir(parents=True, exist_ok=True)
                _link_once(tmp, final)
            return digest, md5_hex, size
        finally:
            tmp.unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")

    def local_path(self, sha256: str) -> Path | None:
        return self.path_for(sha256)

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def is_empty(self) -> bool:
        return not (self.root.exists() and any(p.is_file() for p in self.root.rglob("*")))

    def describe(self) -> str:
        return f"the directory {self.root}"


def make_store(settings) -> BlobStore:
    """The store the settings name: an S3-compatible bucket when HAMLET_S3_BUCKET is set, else the directory."""
    if settings.s3 is not None:
        from server.models.s3_blobs import S3BlobStore

        return S3BlobStore(settings.s3)
    return LocalBlobStore(settings.data_dir)


_ENSURE: dict[str, tuple] = {}


def ensure_blob(db: Session, sha256: str, md5: str, size: int) -> int:
    """Insert-or-get by hash: the blob's id; safe when two requests store the same bytes at once.

    Core statements built once per dialect, on the session's connection: intake calls this for every
    photo, and the ORM round (an object loaded into the session) cost ~1 ms each."""
    conn = db.connection()
    dialect = conn.dialect.name
    found = _ENSURE.get(dialect)
    if found is None:
        t = Blob.__table__
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        found = _ENSURE[dialect] = (
            insert(t).values(sha256=bindparam("sha256"), md5=bindparam("md5"), size=bindparam("size"))
            .on_conflict_do_nothing(index_elements=["sha256"]).returning(t.c.id),
            select(t.c.id).where(t.c.sha256 == bindparam("sha256")))
    blob_id = conn.execute(found[0], {"sha256": sha256, "md5": md5, "size": size}).scalar()
    if blob_id is None:   # already there: a new statement sees it even if another request just committed it
        blob_id = conn.execute(found[1], {"sha256": sha256}).scalar_one()
    return blob_id
