"""The encrypted container a backup is written in: a passphrase-derived key and AES-256-GCM over
1 MiB chunks, so an archive of any size streams through a fixed amount of memory.

Layout: a header (magic, format version, scrypt salt and cost, a nonce prefix, a check value), then
records of a 4-byte length and one sealed chunk. Each chunk's nonce is the prefix, its position and a
last-chunk flag, and the header is its associated data: a chunk cannot be altered, moved, dropped, or
the archive cut short after any chunk, without decryption failing (the STREAM construction of Hoang,
Reyhanitabar, Rogaway and Vizár, "Online authenticated-encryption and its nonce-reuse misuse-resistance").
The check value (an HMAC of the header under a second derived key) tells a wrong passphrase apart from a
damaged archive before any chunk is read.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"HAMLET-BACKUP\n"
FORMAT = 1
CHUNK = 1024 * 1024
# scrypt at 2^17 × 8 (OWASP's current guidance) takes 128 MiB and well under a second: cheap once per
# backup, costly per guess.
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
# The header is read before the passphrase can be checked: a damaged or crafted one may ask scrypt for
# at most 128 × 8 × 2^20 bytes = 1 GiB, never more.
MAX_LOG2_N = 20
_FIXED = struct.Struct(">14sB16sBBB7s")  # magic, format, salt, log2 n, r, p, nonce prefix
_LENGTH = struct.Struct(">I")
HEADER_SIZE = _FIXED.size + 32
TAG = 16


class SealError(Exception):
    """An archive that cannot be opened; the message says why in words an operator can act on."""


class WrongPassphrase(SealError):
    pass


class DamagedArchive(SealError):
    pass


def _keys(passphrase: bytes, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    material = Scrypt(salt=salt, length=64, n=2 ** log2_n, r=r, p=p).derive(passphrase)
    return material[:32], material[32:]


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class SealedWriter:
    """A write-only file object: what is written is sealed chunk by chunk; `close` seals the last one."""

    def __init__(self, out: BinaryIO, passphrase: bytes):
        salt, prefix = os.urandom(16), os.urandom(7)
        fixed = _FIXED.pack(MAGIC, FORMAT, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, prefix)
        key, check_key = _keys(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
        self.header = fixed + hmac.new(check_key, fixed, hashlib.sha256).digest()
        self._out, self._aead, self._prefix = out, AESGCM(key), prefix
        self._buffer = bytearray()
        self._index = 0
        self.closed = False
        out.write(self.header)

    def _seal(self, data: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), data, self.header)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True


class SealedReader:
    """A read-only file object over a sealed archive; every byte it returns has been authenticated."""

    def __init__(self, src: BinaryIO, passphrase: bytes):
        fixed = src.read(_FIXED.size)
        if len(fixed) < _FIXED.size or not fixed.startswith(MAGIC):
            raise DamagedArchive("this file is not a Hamlet backup (it does not start like one)")
        _magic, version, salt, log2_n, r, p, prefix = _FIXED.unpack(fixed)
        if version != FORMAT:
            raise DamagedArchive(f"this backup is in format {version}; this Hamlet reads format {FORMAT}")
        if not (14 <= log2_n <= MAX_LOG2_N and r == SCRYPT_R and 1 <= p <= 4):
            raise DamagedArchive("the backup's header is damaged (its key parameters are out of range)")
        check = src.read(32)
        key, check_key = _keys(passphrase, salt, log2_n, r, p)
        if not hmac.compare_digest(check, hmac.new(check_key, fixed, hashlib.sha256).digest()):
            raise WrongPassphrase("wrong passphrase for this backup (or its header is damaged)")
        self.header = fixed + check
        self._src, self._aead, self._prefix = src, AESGCM(key), prefix
        self._plain, self._pos = b"", 0
        self._index = 0
        self.finished = False

    def _next_chunk(self) -> bytes:
        length_bytes = self._src.read(_LENGTH.size)
        if len(length_bytes) < _LENGTH.size:
            raise DamagedArchive("the backup ends early: the file was cut short or not copied whole")
        (length,) = _LENGTH.unpack(length_bytes)
        if not TAG <= length <= CHUNK + TAG:
            raise DamagedArchive(f"the backup is damaged near chunk {self._index} (a chunk length is wrong)")
        sealed = self._src.read(length)
        if len(sealed) < length:
            raise DamagedArchive("the backup ends early: the file was cut short or not copied whole")
        for last in (False, True):
            try:
                plain = self._aead.decrypt(_nonce(self._prefix, self._index, last), sealed, self.header)
            except InvalidTag:
                continue
            self._index += 1
            if last:
                self.finished = True
                if self._src.read(1):
                    raise DamagedArchive("the backup has bytes after its end: it was altered")
            return plain
        raise DamagedArchive(f"the backup is damaged: chunk {self._index} fails its integrity check")

    def read(self, size: int = -1) -> bytes:
        pieces: list[bytes] = []
        wanted = size
        while wanted != 0:
            if self._pos == len(self._plain):
                if self.finished:
                    break
                self._plain, self._pos = self._next_chunk(), 0
                continue
            end = len(self._plain) if wanted < 0 else min(len(self._plain), self._pos + wanted)
            pieces.append(self._plain[self._pos:end])
            if wanted > 0:
                wanted -= end - self._pos
            self._pos = end
        return b"".join(pieces)

    def read_to_end(self) -> None:
        """Authenticate the rest, up to the last chunk: an archive cut after its useful bytes is damaged."""
        while not self.finished:
            self._next_chunk()
