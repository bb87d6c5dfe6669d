"""Content digests: parsing, hashing, and the one reader that refuses bytes that do not match.

Every blob mason reads (from a registry, a layout directory or a tarball) goes through
:class:`VerifyingReader`, so a blob is only trusted once its last byte has been hashed and
compared with the descriptor that named it; small documents read whole go through
:func:`verify_bytes`.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import BinaryIO, Callable

from mason.errors import DigestMismatchError, ImageError

# algorithm -> (hashlib name, hex length). Anything else is refused: a digest mason cannot
# verify must never be accepted.
_ALGORITHMS = {"sha256": ("sha256", 64), "sha512": ("sha512", 128)}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")

CHUNK = 1 << 20


def parse_digest(digest: str) -> tuple[str, str]:
    """Split ``algorithm:hex`` after checking it is a digest mason can verify."""
    if not isinstance(digest, str):
        raise ImageError(f"invalid digest {digest!r}: not a string")
    m = _DIGEST_RE.match(digest)
    if not m:
        raise ImageError(f"invalid digest {digest!r}: expected algorithm:hex")
    algorithm, encoded = m.groups()
    if algorithm not in _ALGORITHMS:
        raise ImageError(f"unsupported digest algorithm {algorithm!r} in {digest!r}",
                         hint="mason verifies sha256 and sha512 digests only")
    length = _ALGORITHMS[algorithm][1]
    if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise ImageError(f"invalid digest {digest!r}: {algorithm} needs {length} lowercase hex characters")
    return algorithm, encoded


def validate_digest(digest: str) -> str:
    """Return ``digest`` unchanged if valid, else raise :class:`ImageError`."""
    parse_digest(digest)
    return digest


def new_hasher(algorithm: str = "sha256") -> "hashlib._Hash":
    if algorithm not in _ALGORITHMS:
        raise ImageError(f"unsupported digest algorithm {algorithm!r}")
    return hashlib.new(_ALGORITHMS[algorithm][0])


def digest_bytes(data: bytes, algorithm: str = "sha256") -> str:
    h = new_hasher(algorithm)
    h.update(data)
    return f"{algorithm}:{h.hexdigest()}"


def digest_stream(stream: BinaryIO, algorithm: str = "sha256") -> tuple[str, int]:
    """Hash a stream to its end; returns ``(digest, size)`` without holding it in memory."""
    h = new_hasher(algorithm)
    size = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        h.update(chunk)
        size += len(chunk)
    return f"{algorithm}:{h.hexdigest()}", size


def verify_bytes(data: bytes, digest: str, size: int | None, what: str) -> bytes:
    """Check small content (manifests, configs) read whole; returns it for chaining."""
    algorithm, _ = parse_digest(digest)
    if size is not None and len(data) != size:
        raise DigestMismatchError(f"{what}: size {len(data)} does not match the expected {size} bytes of {digest}")
    actual = digest_bytes(data, algorithm)
    if actual != digest:
        raise DigestMismatchError(f"{what}: content hashes to {actual}, not to its digest {digest}")
    return data


class VerifyingReader(io.RawIOBase):
    """A read-only binary stream that hashes as it goes and refuses content that does not match.

    ``source`` is a stream, or a ``read(n)`` function (a registry response body). The reader
    raises ``DigestMismatchError`` at end of stream when the hash or the size is wrong, and as
    soon as more bytes than ``size`` arrive, so an endless or oversized stream is stopped early
    (it never asks for more than one byte past the expected end). ``verified`` says whether the
    check has passed; a consumer that stops reading early has verified nothing, unless
    ``drain_on_close``: then ``close()`` reads the rest and verifies it (tar and gzip readers
    often stop before the last padding bytes of a registry blob). ``abort()``, or leaving a
    ``with`` block by an exception, closes without verifying. ``on_eof`` runs once the content
    verified; ``on_close`` once when the reader is closed or aborted (default: close ``source``).
    """

    def __init__(self, source: BinaryIO | Callable[[int], bytes], digest: str, size: int | None, what: str, *,
                 on_eof: Callable[[], None] | None = None, on_close: Callable[[], None] | None = None,
                 drain_on_close: bool = False):
        super().__init__()
        algorithm, _ = parse_digest(digest)
        if callable(source):
            self._read = source
        else:
            self._read = source.read
            on_close = on_close or getattr(source, "close", None)
        self._hasher = new_hasher(algorithm)
        self._algorithm = algorithm
        self.digest = digest
        self.size = size
        self.what = what
        self._on_eof = on_eof
        self._on_close = on_close
        self._drain_on_close = drain_on_close
        self._count = 0
        self._eof = False
        self.verified = False

    def readable(self) -> bool:
        return True

    @property
    def bytes_read(self) -> int:
        return self._count

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._eof:
            return 0
        view = memoryview(buffer).cast("B")
        want = len(view)
        if want == 0:
            return 0
        if self.size is not None:
            # ask for one byte past the expected end so an over-long stream is caught
            want = min(want, self.size - self._count + 1) or 1
        data = self._read(want)
        if not data:
            self._eof = True
            self._finish()
            return 0
        n = len(data)
        self._count += n
        if self.size is not None and self._count > self.size:
            self._fail(f"more than the expected {self.size} bytes of {self.digest}")
        self._hasher.update(data)
        view[:n] = data
        return n

    def _fail(self, detail: str) -> None:
        self._eof = True
        self._release()
        raise DigestMismatchError(f"{self.what}: {detail}")

    def _finish(self) -> None:
        if self.verified:
            return
        if self.size is not None and self._count != self.size:
            self._fail(f"got {self._count} bytes, expected {self.size} bytes of {self.digest}")
        actual = f"{self._algorithm}:{self._hasher.hexdigest()}"
        if actual != self.digest:
            self._fail(f"content hashes to {actual}, not to its digest {self.digest}")
        self.verified = True
        if self._on_eof is not None:
            self._on_eof()

    def drain(self) -> None:
        """Read to the end, verifying; for callers that only want the check."""
        buffer = bytearray(CHUNK)
        while self.readinto(buffer):
            pass

    def _release(self) -> None:
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    def abort(self) -> None:
        """Close without verifying (the consumer gave up; nothing read will be trusted)."""
        self._eof = True
        self._release()
        super().close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._drain_on_close and not self.verified:
                self.drain()
                self._finish()
        finally:
            self._release()
            super().close()

    def __del__(self) -> None:
        # garbage collection must neither drain a network stream nor raise
        try:
            self.abort()
        except Exception:
            pass

    def __enter__(self) -> "VerifyingReader":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
