"""An entry compressed apart (on another thread) and added by ZipStream.deflated must be the very
bytes ZipStream.entry writes of the same data: header, deflate stream, data descriptor, directory."""
from __future__ import annotations

import io
import random
import zipfile
from unittest import mock

import pytest

from server.exports import zipstream
from server.exports.zipstream import Deflated, ZipStream


def _chunks(size: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    words = [b"<row>", b"<c><v>12</v></c>", b'<c t="inlineStr"><is><t>L\xc3\xaa</t></is></c>', b"</row>",
             bytes(rnd.randrange(256) for _ in range(64))]
    out, total = [], 0
    while total < size:
        chunk = b"".join(rnd.choice(words) for _ in range(rnd.randrange(1, 2000)))[: size - total]
        out.append(chunk)
        total += len(chunk)
    return out


def _archive(entries: list[tuple[str, list[bytes]]], apart: set[str]) -> bytes:
    archive = ZipStream(compresslevel=1)
    out = []
    with mock.patch.object(zipfile.time, "time", return_value=1_700_000_000.0):
        for name, chunks in entries:
            if name in apart:
                done = Deflated(archive.compresslevel)
                for chunk in chunks:
                    done.write(chunk)
                done.close()
                out += archive.deflated(name, done)
            else:
                out += archive.entry(name, chunks)
        out += archive.finish()
    return b"".join(out)


@pytest.mark.parametrize("spool", [Deflated.SPOOL, 1000])   # in memory, and spilled to a temporary file
def test_an_entry_deflated_apart_is_the_same_bytes(monkeypatch, spool):
    monkeypatch.setattr(Deflated, "SPOOL", spool)
    entries = [("a.xml", _chunks(300, 1)), ("b.xml", []), ("c.xml", _chunks(3 * zipstream.CHUNK, 2)),
               ("d.xml", [b""]), ("e.xml", _chunks(70_000, 3))]
    names = {n for n, _ in entries}
    plain = _archive(entries, set())
    for apart in ({"b.xml", "c.xml"}, names):
        assert _archive(entries, apart) == plain
    unzipped = zipfile.ZipFile(io.BytesIO(plain))
    assert unzipped.testzip() is None
    assert unzipped.read("c.xml") == b"".join(entries[2][1])
