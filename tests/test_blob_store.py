"""The local blob store (server/models/blobs.py): files named by their SHA-256, visible only whole."""
from __future__ import annotations

import hashlib
import io

import pytest

from server.models.blobs import LocalBlobStore


def _files(store: LocalBlobStore) -> list[str]:
    return sorted(p.name for p in store.root.rglob("*") if p.is_file())


def test_the_first_file_makes_the_store_and_its_folders(tmp_path):
    store = LocalBlobStore(tmp_path / "data")
    data = b"\xff\xd8\xff" + bytes(range(256)) * 10
    sha, md5, size = store.put_stream(io.BytesIO(data))
    assert (sha, md5, size) == (hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest(), len(data))
    assert store.path_for(sha).read_bytes() == data
    assert _files(store) == [sha]


def test_the_same_bytes_twice_stay_one_file_and_other_bytes_sit_beside_them(tmp_path):
    store = LocalBlobStore(tmp_path)
    first = store.put_bytes(b"photo one")
    assert store.put_bytes(b"photo one") == first
    second = store.put_bytes(b"photo two")
    assert _files(store) == sorted([first[0], second[0]])
    assert store.open(first[0]).read() == b"photo one"


def test_a_file_past_the_limit_or_a_failing_read_leaves_nothing_behind(tmp_path):
    store = LocalBlobStore(tmp_path)
    store.put_bytes(b"already here")
    with pytest.raises(ValueError, match="larger than"):
        store.put_stream(io.BytesIO(b"x" * 5000), limit=4000)

    class Breaks(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            raise OSError("the connection dropped")

    with pytest.raises(OSError, match="dropped"):
        store.put_stream(io.BufferedReader(Breaks()))
    assert _files(store) == [hashlib.sha256(b"already here").hexdigest()], "no .incoming- file is left"
