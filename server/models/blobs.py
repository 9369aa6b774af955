"""Content-addressed file storage: bytes under HAMLET_DATA_DIR, one row per distinct content."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import BigInteger, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from server.db import Base

CHUNK = 1024 * 1024


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)


class BlobStore:
    """Writes each file once, atomically (temp file, fsync, rename), named by its SHA-256."""

    def __init__(self, root: Path):
        self.root = Path(root) / "blobs"

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put_stream(self, stream: IO[bytes], limit: int | None = None) -> tuple[str, str, int]:
        """Copy a stream into the store; returns (sha256, md5, size). Raises ValueError past `limit`."""
        self.root.mkdir(parents=True, exist_ok=True)
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise ValueError(f"file is larger than {limit} bytes")
                    sha.update(chunk)
                    md5.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = sha.hexdigest()
            final = self.path_for(digest)
            if final.exists():
                os.unlink(tmp)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
            return digest, md5.hexdigest(), size
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def put_bytes(self, data: bytes) -> tuple[str, str, int]:
        import io

        return self.put_stream(io.BytesIO(data))

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")


def ensure_blob(db: Session, sha256: str, md5: str, size: int) -> Blob:
    """Insert-or-get by hash; safe when two requests store the same bytes at once."""
    values = dict(sha256=sha256, md5=md5, size=size)
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
    return db.scalars(select(Blob).where(Blob.sha256 == sha256)).one()
