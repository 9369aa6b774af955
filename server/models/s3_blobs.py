"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, Garage…) through boto3, for several web
nodes sharing one store. Keys are `blobs/ab/cd/<sha256>`, the local layout's, so a migrated store
and a local one name every file alike (`hamlet blobs migrate`).

A stream is hashed into a spooled temporary file before it is sent, since its name is its hash;
the object then appears whole or not at all (a PUT, or a multipart upload completed last), so a
half-finished upload is never visible. Reads stream the object's body in chunks."""
from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import IO, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from server import problems
from server.config import S3Settings
from server.models.blobs import CHUNK, BlobStore, copy_hashed

log = logging.getLogger("hamlet.blobs")
# Above this a stream is spooled to disk rather than memory, and sent as a multipart upload.
SPOOL_BYTES = 8 * 1024 * 1024


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3BlobStore(BlobStore):
    def __init__(self, settings: S3Settings):
        self.settings = settings
        # Short timeouts and few retries: a store that does not answer should refuse a submission in
        # seconds with a message Collect shows, not hold the phone for minutes.
        self.client = boto3.client(
            "s3", endpoint_url=settings.endpoint, region_name=settings.region or "us-east-1",
            aws_access_key_id=settings.access_key, aws_secret_access_key=settings.secret_key,
            config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                          s3={"addressing_style": "path"}))
        self.bucket = settings.bucket

    def key_for(self, sha256: str) -> str:
        return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put_stream(self, stream: IO[bytes], limit: int | None = None) -> tuple[str, str, int]:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            digest, md5_hex, size = copy_hashed(stream, cast(IO[bytes], spool), limit)
            key = self.key_for(digest)
            try:
                if not self.exists(key):
                    spool.seek(0)
                    self.client.upload_fileobj(spool, self.bucket, key)
            except (BotoCoreError, ClientError) as exc:
                log.error("storing %s in %s failed: %s", digest, self.describe(), exc)
                raise problems.StorageUnavailable() from exc
        return digest, md5_hex, size

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise

    def open(self, sha256: str) -> BinaryIO:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"{self.describe()} has no blob {sha256}") from None
            log.error("reading %s from %s failed: %s", sha256, self.describe(), exc)
            raise problems.StorageUnavailable() from exc
        except BotoCoreError as exc:
            log.error("reading %s from %s failed: %s", sha256, self.describe(), exc)
            raise problems.StorageUnavailable() from exc
        return cast(BinaryIO, _Body(found["Body"]))

    def local_path(self, sha256: str) -> Path | None:
        return None

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key_for(sha256))

    def is_empty(self) -> bool:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix="blobs/", MaxKeys=1)
        return not listed.get("KeyCount")

    def describe(self) -> str:
        where = self.settings.endpoint or "AWS S3"
        return f"the bucket {self.bucket} at {where}"


class _Body:
    """botocore's streaming body as a file object that can be used in `with` and read in chunks."""

    def __init__(self, body):
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sha256_of(f: BinaryIO) -> str:
    sha = hashlib.sha256()
    with f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def migrate_blobs(blobs: list[tuple[str, int]], source: BlobStore, target: S3BlobStore,
                  progress=None) -> tuple[int, int, list[str]]:
    """Copy every blob the database names from a local store into the bucket, then read each back from
    the bucket and check its hash. Safe to run again: a blob already there is only verified.
    Returns (copied, already there, problems)."""
    copied = present = 0
    problems_found: list[str] = []
    for sha, size in blobs:
        key = target.key_for(sha)
        if target.exists(key):
            present += 1
        else:
            try:
                f = source.open(sha)
            except FileNotFoundError:
                problems_found.append(f"{sha}: missing from {source.describe()}")
                continue
            with f:
                digest, _md5, _size = target.put_stream(f)
            if digest != sha:
                target.delete(digest)
                problems_found.append(f"{sha}: the local file is damaged (its bytes hash to {digest}); not copied")
                continue
            copied += 1
        if _sha256_of(target.open(sha)) != sha:
            problems_found.append(f"{sha}: the copy in the bucket does not match its hash")
        if progress:
            progress(size)
    return copied, present, problems_found
