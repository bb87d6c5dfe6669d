"""Layer compression: streaming writers/readers, magic-byte detection, media types.

Choices (measured on a 2-core machine):

* gzip is written by ``gzipblocks.BlockGzipWriter``: ISA-L deflating fixed blocks in
  worker threads, pigz's scheme (the layout ``isal.igzip_threaded`` writes). Its output bytes do not depend on the thread count, its header carries ``mtime=0`` and no
  file name, and it is a single gzip member, so reproducible builds get identical digests.
  The block size is fixed (``_GZIP_BLOCK``) because it *does* shape the output. With
  ``verify`` (reproducible builds) every block is deflated twice and the encodings compared
  (see gzipblocks.py for why).
* The default gzip level is 1: isal L1 compresses ~455 MB/s (single thread) against
  zlib L6's 33 MB/s, for an output ~6% larger than zlib L6.
* zstd uses ``zstandard`` (level 3 default) always in its multi-threaded mode: that
  mode's output does not depend on the worker count, whereas single-threaded mode
  frames differently, so mixing the two would break reproducible digests.
"""

from __future__ import annotations

import enum
import io
from typing import BinaryIO

from mason.errors import LayerError

_GZIP_BLOCK = 1024 * 1024  # part of the output format: never derive it from the input
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Compression(enum.Enum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


DEFAULT_LEVEL = {Compression.NONE: 0, Compression.GZIP: 1, Compression.ZSTD: 3}

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

_MEDIA_TYPES = {
    OCI_LAYER: Compression.NONE,
    OCI_LAYER_GZIP: Compression.GZIP,
    OCI_LAYER_ZSTD: Compression.ZSTD,
    # Deprecated OCI "non-distributable" layers are still layers we can read.
    "application/vnd.oci.image.layer.nondistributable.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": Compression.ZSTD,
    DOCKER_LAYER: Compression.NONE,
    DOCKER_LAYER_GZIP: Compression.GZIP,
    DOCKER_FOREIGN_LAYER_GZIP: Compression.GZIP,
}


def compression_from_media_type(media_type: str) -> Compression:
    """The compression a layer media type declares; unknown types are refused."""
    try:
        return _MEDIA_TYPES[media_type]
    except KeyError:
        raise LayerError(f"unsupported layer media type {media_type!r}",
                         hint="layers must be OCI or Docker tar, tar+gzip or tar+zstd") from None


def media_type_for(compression: Compression, *, docker: bool = False) -> str:
    """The layer media type for ``compression``, OCI unless ``docker`` is true.

    Docker schema 2 has no zstd layer type; registries and containerd accept the OCI
    zstd type inside Docker manifests (as BuildKit writes them), so that is returned.
    """
    if docker:
        return {Compression.NONE: DOCKER_LAYER, Compression.GZIP: DOCKER_LAYER_GZIP,
                Compression.ZSTD: OCI_LAYER_ZSTD}[compression]
    return {Compression.NONE: OCI_LAYER, Compression.GZIP: OCI_LAYER_GZIP,
            Compression.ZSTD: OCI_LAYER_ZSTD}[compression]


def detect_compression(head: bytes) -> Compression:
    """Compression of a stream from its first bytes (at least 4 should be given)."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


# The packages ``load_codecs`` imports, for ``sandbox.container.runtime_files``.
CODEC_PACKAGES = ("zstandard", "isal")


def load_codecs():
    """(isal.igzip, isal.isal_zlib, zstandard), imported at the first (de)compression: a
    build whose steps are all cached compresses nothing. ``sandbox.container.runtime_files``
    calls it, so the files they map are mapped before a host-root build chooses its root."""
    # deferred for start-up cost: native codecs an all-cached build never uses
    import zstandard
    from isal import igzip, isal_zlib

    return igzip, isal_zlib, zstandard


def open_compressor(raw: BinaryIO, compression: Compression, *, level: int | None = None,
                    threads: int = 1, verify: bool = False) -> BinaryIO:
    """A writable stream compressing into ``raw``; closing it finishes the stream but
    leaves ``raw`` open (the caller owns it). ``verify``: gzip blocks are deflated twice and
    compared (reproducible builds); zstd and uncompressed layers have nothing to verify."""
    if level is None:
        level = DEFAULT_LEVEL[compression]
    if compression is Compression.NONE:
        return _NonClosing(raw)
    if compression is Compression.GZIP:
        if not 0 <= level <= 3:
            raise LayerError(f"gzip level {level} is out of range: isal supports 0-3")
        from mason.tarfs.gzipblocks import BlockGzipWriter

        return BlockGzipWriter(raw, level=level, threads=threads, block_size=_GZIP_BLOCK,  # type: ignore[return-value]
                               verify=verify)
    _, _, zstandard = load_codecs()
    if compression is Compression.ZSTD:
        if not 1 <= level <= 22:
            raise LayerError(f"zstd level {level} is out of range: 1-22")
        params = zstandard.ZstdCompressionParameters.from_level(
            level, threads=max(1, threads), write_checksum=True)
        return zstandard.ZstdCompressor(compression_params=params).stream_writer(
            raw, closefd=False)
    raise LayerError(f"unknown compression {compression!r}")


def open_decompressor(raw: BinaryIO, compression: Compression) -> BinaryIO:
    """A readable (``read``/``readinto``) stream of the decompressed bytes of ``raw``."""
    if compression is Compression.NONE:
        return raw
    igzip, _, zstandard = load_codecs()
    if compression is Compression.GZIP:
        # igzip reads concatenated members too (pigz-style layers are valid gzip).
        return igzip.open(raw, "rb")
    if compression is Compression.ZSTD:
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True,
                                                          closefd=False)
    raise LayerError(f"unknown compression {compression!r}")


def open_auto(raw: BinaryIO) -> tuple[Compression, BinaryIO]:
    """Detect the compression of ``raw`` by magic bytes and return a decompressing reader."""
    buffered = raw if hasattr(raw, "peek") else io.BufferedReader(_ReadOnly(raw))
    head = buffered.peek(4)[:4]
    compression = detect_compression(head)
    return compression, open_decompressor(buffered, compression)


class _NonClosing(io.RawIOBase):
    """Pass-through writer whose close() does not close the wrapped stream."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self._raw.write(data)


class _ReadOnly(io.RawIOBase):
    """Adapts any object with ``read`` to ``io.BufferedReader`` without taking ownership."""

    def __init__(self, raw):
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if hasattr(self._raw, "readinto"):
            return self._raw.readinto(buffer)
        data = self._raw.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:  # the caller owns the underlying stream
        super().close()
