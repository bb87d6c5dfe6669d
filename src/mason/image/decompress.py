"""Decompressing readers for layer blobs (gzip via isal, zstd via zstandard).

Used to check diff_ids and to hand layer tars to whoever extracts them; both libraries stream,
so memory stays bounded whatever the layer size.
"""

from __future__ import annotations

from typing import BinaryIO

from mason.errors import ImageError


def decompressing_reader(stream: BinaryIO, compression: str | None) -> BinaryIO:
    if compression is None:
        return stream
    if compression == "gzip":
        from isal import igzip

        return _Closing(igzip.IGzipFile(fileobj=stream, mode="rb"), stream)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=True)
    raise ImageError(f"unsupported layer compression {compression!r}")


def sniff_compression(head: bytes) -> str | None:
    """Compression of a blob from its first bytes (docker-archive layers carry no media type)."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return None


class _Closing:
    """GzipFile leaves a passed-in file open; closing the layer must close the blob too."""

    def __init__(self, reader, underlying):
        self._reader, self._underlying = reader, underlying

    def read(self, n: int = -1) -> bytes:
        return self._reader.read(n)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            self._underlying.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
