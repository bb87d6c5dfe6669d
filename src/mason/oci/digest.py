"""Content digests: parsing, hashing, and a reader that refuses bytes that do not match.

Every blob mason reads (from a registry, a layout directory or a tarball) goes through
:class:`VerifyingReader`, so a blob is only trusted once its last byte has been hashed and
compared with the descriptor that named it.
"""

from __future__ import annotations

import hashlib
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
        raise DigestMismatchError(f"{what}: content hashes to {actual}, expected {digest}")
    return data


class VerifyingReader:
    """A read-only stream that hashes as it goes and raises at EOF if content is wrong.

    It also raises as soon as more bytes than ``size`` arrive, so an endless or oversized
    stream is stopped early. The check happens when the underlying stream ends; a caller that
    stops reading early has not verified anything (``verified`` tells).
    """

    def __init__(self, stream: BinaryIO, digest: str, size: int | None, what: str,
                 on_eof: Callable[[], None] | None = None):
        algorithm, _ = parse_digest(digest)
        self._on_eof = on_eof
        self._stream = stream
        self._hasher = new_hasher(algorithm)
        self._algorithm = algorithm
        self.digest = digest
        self.size = size
        self.what = what
        self._seen = 0
        self.verified = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.verified:
            return b""
        if n is None or n < 0:
            parts: list[bytes] = []
            while True:
                chunk = self.read(CHUNK)
                if not chunk:
                    return b"".join(parts)
                parts.append(chunk)
        if n == 0:
            return b""
        chunk = self._stream.read(n)
        if chunk:
            self._seen += len(chunk)
            if self.size is not None and self._seen > self.size:
                raise DigestMismatchError(
                    f"{self.what}: more than the expected {self.size} bytes of {self.digest}")
            self._hasher.update(chunk)
            return chunk
        self._finish()
        return b""

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        if self.size is not None and self._seen != self.size:
            raise DigestMismatchError(
                f"{self.what}: got {self._seen} bytes, expected {self.size} bytes of {self.digest}")
        actual = f"{self._algorithm}:{self._hasher.hexdigest()}"
        if actual != self.digest:
            raise DigestMismatchError(f"{self.what}: content hashes to {actual}, expected {self.digest}")
        if self._on_eof is not None:
            self._on_eof()
        self.verified = True

    def drain(self) -> None:
        """Read to the end, verifying; for callers that only want the check."""
        while self.read(CHUNK):
            pass

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "VerifyingReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
