"""Request bodies for blob uploads, streamed from a re-openable source.

The source is a callable returning a fresh binary stream (or plain bytes), so a retried
request starts over from the source instead of from a copy in memory. ``requests`` streams
a body object that has ``read`` and a length, sending ``Content-Length`` instead of
chunked transfer encoding (which registries handle poorly).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

Source = Callable[[], BinaryIO] | bytes

_SKIP_CHUNK = 1 << 20


def open_source(source: Source) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    return source()


class BodySlice:
    """``length`` bytes of a stream starting at ``offset``, readable by ``requests`` with a known length."""

    def __init__(self, stream: BinaryIO, offset: int, length: int):
        self._stream = stream
        self._remaining = length
        if offset:
            seekable = getattr(stream, "seekable", None)
            if seekable is not None and seekable():
                stream.seek(offset)
            else:
                left = offset
                while left:
                    skipped = stream.read(min(left, _SKIP_CHUNK))
                    if not skipped:
                        raise ValueError(f"upload source ended before offset {offset}")
                    left -= len(skipped)

    def __len__(self) -> int:
        return self._remaining

    def read(self, n: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if n is None or n < 0 or n > self._remaining:
            n = self._remaining
        data = self._stream.read(n)
        if not data:
            raise ValueError(f"upload source ended {self._remaining} bytes early")
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def body_factory(source: Source, offset: int, length: int) -> Callable[[], BodySlice]:
    return lambda: BodySlice(open_source(source), offset, length)


def location_url(base_url: str, location: str | None) -> str | None:
    """Absolute upload URL from a ``Location`` header (which may be relative)."""
    if not location:
        return None
    return urljoin(base_url, location)


def with_query(url: str, **params: str) -> str:
    """``url`` with extra query parameters, keeping the upload state the registry put there."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
