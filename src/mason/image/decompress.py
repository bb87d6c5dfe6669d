"""Decompressing readers for layer blobs (gzip via isal, zstd via zstandard).

Used to check diff_ids and to hand layer tars to whoever extracts them; both libraries stream,
so memory stays bounded whatever the layer size.
"""

from __future__ import annotations

from typing import BinaryIO

from mason.errors import ImageError


def decompressing_reader(stream: BinaryIO, compression: str | None, what: str = "layer") -> BinaryIO:
    """Decompress ``stream``; corrupt data raises ImageError, or DigestMismatchError when the
    underlying (verifying) stream shows the blob itself is not what was asked for."""
    if compression is None:
        return stream
    if compression == "gzip":
        from isal import igzip

        return _Closing(igzip.IGzipFile(fileobj=stream, mode="rb"), stream, what)
    if compression == "zstd":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True, closefd=False)
        return _Closing(reader, stream, what)
    raise ImageError(f"unsupported layer compression {compression!r}")


def sniff_compression(head: bytes) -> str | None:
    """Compression of a blob from its first bytes (docker-archive layers carry no media type)."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    return None


class _Closing:
    """Closes the blob with the decompressor (GzipFile leaves it open) and names decompression errors."""

    def __init__(self, reader, underlying, what: str):
        self._reader, self._underlying, self._what = reader, underlying, what

    def read(self, n: int = -1) -> bytes:
        try:
            return self._reader.read(n)
        except ImageError:
            raise
        except Exception as exc:   # gzip/zlib/zstd each raise their own types for bad data
            drain = getattr(self._underlying, "drain", None)
            if drain is not None:
                drain()            # a wrong blob is reported as such, not as bad compression
            raise ImageError(f"{self._what}: cannot decompress: {exc}") from None

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
