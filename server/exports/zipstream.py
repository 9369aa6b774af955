"""A zip archive written straight to the HTTP response, entry by entry, with bounded memory.

The standard library's zipfile writes to any object with `write` and `tell`; without `seek` it
marks sizes in data descriptors after each entry, which every unzip tool reads. `ZipStream`
collects what zipfile writes and hands it out in chunks the response generator yields."""
from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

CHUNK = 256 * 1024


class _Sink:
    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pending = 0
        self._position = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(data)
        if size:
            self._parts.append(bytes(data))
            self._pending += size
            self._position += size
        return size

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        # zipfile never closes a file object it was handed; the method is here because its
        # writable-file type asks for one.
        pass

    @property
    def pending(self) -> int:
        return self._pending

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self._pending = 0
        return data


class ZipStream:
    """`entry(name, chunks)` adds a file from an iterable of bytes and yields archive bytes as they
    accumulate; `finish()` yields the central directory."""

    def __init__(self, compresslevel: int = 1) -> None:
        # Level 1: deflate at ~200 MB/s instead of ~90 MB/s at the default 6, for a file ~40% larger
        # (measured on roster CSVs); on 100k households that is about a second of CPU per export.
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel)

    def entry(self, name: str, chunks: Iterable[bytes], large: bool = False) -> Iterator[bytes]:
        with self._zip.open(name, "w", force_zip64=large) as out:
            for chunk in chunks:
                out.write(chunk)
                if self._sink.pending >= CHUNK:
                    yield self._sink.take()
        if self._sink.pending >= CHUNK:
            yield self._sink.take()

    def file(self, name: str, fp: BinaryIO) -> Iterator[bytes]:
        yield from self.entry(name, iter(lambda: fp.read(CHUNK), b""), large=True)

    def finish(self) -> Iterator[bytes]:
        self._zip.close()
        data = self._sink.take()
        if data:
            yield data
