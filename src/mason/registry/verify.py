"""Streams that check what they carry against a digest and size.

Nothing read from a registry is trusted until it hashed to its digest. A verifying reader
hashes as the consumer reads and raises ``DigestMismatchError`` at end of stream, or as
soon as more bytes arrive than the expected size. Consumers such as tar or gzip readers
often stop before the last padding bytes, so ``close()`` drains and verifies the rest;
``abort()`` (or leaving a ``with`` block by an exception) closes without verifying.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

from mason.errors import DigestMismatchError
from mason.oci.reference import validate_digest

_DRAIN_CHUNK = 1 << 20


def hasher_for(digest: str):
    """A hashlib object for ``digest``'s algorithm (validated)."""
    algorithm = validate_digest(digest).partition(":")[0]
    return hashlib.new(algorithm)


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def check_bytes(data: bytes, digest: str, *, what: str) -> None:
    """Raise ``DigestMismatchError`` unless ``data`` hashes to ``digest``."""
    h = hasher_for(digest)
    h.update(data)
    actual = f"{h.name}:{h.hexdigest()}"
    if actual != digest:
        raise DigestMismatchError(f"{what}: content has digest {actual}, expected {digest}")


class VerifyingReader(io.RawIOBase):
    """Read-only binary stream over ``read(n)`` that verifies digest and size at the end."""

    def __init__(self, read: Callable[[int], bytes], digest: str, size: int | None, *, what: str,
                 on_close: Callable[[], None] | None = None):
        super().__init__()
        self._read = read
        self._digest = digest
        self._hash = hasher_for(digest)
        self._size = size
        self._what = what
        self._on_close = on_close
        self._count = 0
        self._eof = False
        self._verified = False

    def readable(self) -> bool:
        return True

    @property
    def bytes_read(self) -> int:
        return self._count

    def readinto(self, buffer) -> int:
        if self._eof:
            return 0
        view = memoryview(buffer).cast("B")
        want = len(view)
        if self._size is not None:
            # ask for one byte past the expected end so an over-long stream is caught
            want = min(want, self._size - self._count + 1) or 1
        data = self._read(want)
        if not data:
            self._eof = True
            self._verify()
            return 0
        n = len(data)
        self._count += n
        if self._size is not None and self._count > self._size:
            self._fail(f"more than the expected {self._size} bytes")
        self._hash.update(data)
        view[:n] = data
        return n

    def _fail(self, detail: str) -> None:
        self._eof = True
        self._release()
        raise DigestMismatchError(f"{self._what}: {detail} (expected {self._digest})")

    def _verify(self) -> None:
        if self._verified:
            return
        if self._size is not None and self._count != self._size:
            self._fail(f"got {self._count} bytes, expected {self._size}")
        actual = f"{self._hash.name}:{self._hash.hexdigest()}"
        if actual != self._digest:
            self._fail(f"content has digest {actual}")
        self._verified = True

    def _release(self) -> None:
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    def abort(self) -> None:
        """Close without verifying (the consumer gave up; nothing read will be trusted)."""
        self._eof = True
        self._verified = True
        self._release()
        super().close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._eof:
                buffer = bytearray(_DRAIN_CHUNK)
                while self.readinto(buffer):
                    pass
            self._verify()
        finally:
            self._release()
            super().close()

    def __del__(self):
        # garbage collection must neither drain a network stream nor raise
        try:
            self.abort()
        except Exception:
            pass

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        else:
            self.close()
        return False
