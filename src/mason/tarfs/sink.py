"""One-pass blob sink: tar bytes -> sha256 (diff_id) -> compressor -> sha256 (digest) -> file.

A layer is written exactly once; its diff_id, digest and size come out of the same pass,
so no step ever re-reads or re-hashes a blob. The file appears under its final name
(the digest's hex, as in an OCI layout's ``blobs/sha256/``) only once complete: it is
written to a temporary name in the same directory and renamed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mason.errors import LayerError
from mason.tarfs.compress import Compression, media_type_for, open_compressor

_CHUNK = 1024 * 1024  # equal to compress._GZIP_BLOCK: one compressor block per chunk


@dataclass(frozen=True)
class LayerBlob:
    """A finished layer blob on disk.

    ``digest`` and ``size`` describe the (compressed) blob as a manifest descriptor does;
    ``diff_id`` is the sha256 of the uncompressed tar as the image config's rootfs lists it.
    """

    path: Path
    digest: str
    size: int
    diff_id: str
    uncompressed_size: int
    compression: Compression

    def media_type(self, *, docker: bool = False) -> str:
        return media_type_for(self.compression, docker=docker)


class _HashingFile:
    """Counts and hashes what the compressor writes, then passes it to the file."""

    def __init__(self, fileobj):
        self._file = fileobj
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()


class BlobSink:
    """A writable, tell()-able stream that becomes a content-addressed layer blob.

    Use as a context manager; ``result`` is set after a clean exit. On an exception
    the temporary file is removed and nothing appears in ``directory``.
    ``threads`` only changes speed, never the bytes written (see compress.py).
    """

    def __init__(self, directory: Path, compression: Compression = Compression.GZIP, *,
                 level: int | None = None, threads: int = 2, verify: bool = False):
        self.directory = Path(directory)
        self.compression = compression
        self._level = level
        self._threads = threads
        self._verify = verify
        self._tar_sha = hashlib.sha256()
        self._tar_size = 0
        self._batch = bytearray()
        self._fd: int | None = None
        self._tmp: str | None = None
        self.result: LayerBlob | None = None

    def __enter__(self) -> "BlobSink":
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=".tmp-layer-", dir=self.directory)
        os.fchmod(fd, 0o644)  # blobs are public content, as in any OCI layout
        self._file = os.fdopen(fd, "wb", buffering=1024 * 1024)
        self._hashed = _HashingFile(self._file)
        self._compressor = open_compressor(self._hashed, self.compression, level=self._level,
                                           threads=self._threads, verify=self._verify)
        return self

    # -- the file-like interface tarfile needs ------------------------------------------
    def write(self, data) -> int:
        # The compressor is fed exactly _CHUNK bytes at a time (its block size), so each
        # block reaches it in one write, with no copy to assemble it. It also batches
        # tarfile's 512-byte header writes into one hash/compress call.
        n = len(data)
        self._tar_size += n
        self._batch += data
        if len(self._batch) >= _CHUNK:
            view = memoryview(self._batch)
            end = len(self._batch) - len(self._batch) % _CHUNK
            for start in range(0, end, _CHUNK):
                self._emit(view[start:start + _CHUNK])
            rest = bytes(view[end:])
            view.release()
            self._batch = bytearray(rest)
        return n

    def _emit(self, chunk) -> None:
        self._tar_sha.update(chunk)
        self._compressor.write(chunk)

    def _flush_batch(self) -> None:
        if self._batch:
            self._emit(self._batch)
            self._batch = bytearray()

    def tell(self) -> int:
        return self._tar_size

    def flush(self) -> None:  # compressors flush on close; an early flush would change bytes
        pass

    # -----------------------------------------------------------------------------------
    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._flush_batch()
            self._compressor.close()
            self._file.flush()
            if exc_type is None:
                os.fsync(self._file.fileno())
        except BaseException:
            self._discard()
            raise
        finally:
            self._file.close()
        if exc_type is not None:
            self._discard()
            return
        hexdigest = self._hashed.sha.hexdigest()
        final = self.directory / hexdigest
        try:
            os.rename(self._tmp, final)
        except OSError as err:
            self._discard()
            raise LayerError(f"cannot store layer blob as {final}: {err.strerror}") from err
        self.result = LayerBlob(path=final, digest=f"sha256:{hexdigest}", size=self._hashed.size,
                                diff_id=f"sha256:{self._tar_sha.hexdigest()}",
                                uncompressed_size=self._tar_size, compression=self.compression)

    def _discard(self) -> None:
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass
