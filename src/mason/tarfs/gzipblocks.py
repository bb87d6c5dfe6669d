"""gzip written as chained blocks (pigz's scheme) with ISA-L, deflated in worker threads.

Every ``block_size`` bytes of input become one raw-deflate block run of its own: a fresh
compressor primed with the previous block's last 32 KiB and ended with a sync flush. The
output is therefore a function of the input bytes, the level and the block size, never of
the thread count or of how the caller split its writes. (``isal.igzip_threaded``, which
mason used before, has the same layout but its private per-block compressor runs ISA-L with
one fixed output buffer; ISA-L's public stream object, used here, can end a block's
encoding a few bytes differently, so layer digests changed once with this writer.)

``verify``: each block is deflated twice, by two fresh compressors, and the encodings are
compared; if they differ a third run decides, and three different encodings fail the layer.
Reproducible builds ask for it: one host-root build under heavy load wrote a layer whose
deflate stream differed from every other run's on the same tar (one missed match at byte
512, a valid stream, so decompression could not tell), and a reproducible digest must not
depend on such an event. ``retried_blocks`` counts the blocks a third run had to decide.
"""

from __future__ import annotations

import collections
import struct
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from mason.errors import LayerError

WINDOW = 32 * 1024            # deflate's history: what a block may refer back to
_MEM_LEVEL = 8                # zlib's default memLevel (ISA-L's large hash table)
_FINAL_BLOCK = b"\x03\x00"    # an empty final fixed-Huffman block: ends the deflate stream


def _deflate(isal_zlib, block: bytes, zdict: bytes, level: int) -> bytes:
    if zdict:
        c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15, _MEM_LEVEL, zdict=zdict)
    else:
        c = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15, _MEM_LEVEL)
    return c.compress(block) + c.flush(isal_zlib.Z_SYNC_FLUSH)


def _deflate_checked(isal_zlib, block: bytes, zdict: bytes, level: int) -> tuple[bytes, bool]:
    """(encoding, whether a third run had to decide) for one block, compressed until two
    fresh runs agree."""
    first = _deflate(isal_zlib, block, zdict, level)
    second = _deflate(isal_zlib, block, zdict, level)
    if first == second:
        return first, False
    third = _deflate(isal_zlib, block, zdict, level)
    if third == first or third == second:
        return third, True
    raise LayerError("the gzip compressor gave three different encodings of one block of this layer",
                     hint="the machine's memory or CPU may be faulty; the build stopped rather than "
                          "write a layer whose bytes are not reproducible")


class BlockGzipWriter:
    """A writable stream of one gzip member into ``raw`` (left open on close)."""

    def __init__(self, raw: BinaryIO, *, level: int, threads: int, block_size: int, verify: bool):
        from isal import isal_zlib  # deferred for start-up cost: a fully cached build compresses nothing

        self._zlib = isal_zlib
        self._raw = raw
        self._level = level
        self._block_size = block_size
        self._verify = verify
        self._threads = max(1, threads)
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="mason-gzip")
        self._pending: collections.deque[Future] = collections.deque()
        self._buffer = bytearray()
        self._previous = b""
        self._crc = 0
        self._size = 0
        self._closed = False
        self.retried_blocks = 0
        # The ten header bytes igzip_threaded wrote (mtime 0, no name; 0xFF and the level-0
        # flag in the XFL and OS bytes, in that order): readers ignore both bytes.
        raw.write(struct.pack("<BBBBIBB", 0x1F, 0x8B, 8, 0, 0, 0xFF, 4 if level == 0 else 0))

    def write(self, data) -> int:
        if self._closed:
            raise ValueError("write to a closed gzip stream")
        try:
            return self._take(data)
        except BaseException:
            self._abort()
            raise

    def _take(self, data) -> int:
        n = len(data)
        size = self._block_size
        if not self._buffer and n == size:      # the sink's whole-block writes: one copy only
            self._submit(bytes(data))
            return n
        self._buffer += data
        while len(self._buffer) >= size:
            self._submit(bytes(self._buffer[:size]))
            del self._buffer[:size]
        return n

    def _submit(self, block: bytes) -> None:
        zdict = self._previous[-WINDOW:]
        self._previous = block
        self._crc = self._zlib.crc32(block, self._crc)
        self._size += len(block)
        work = _deflate_checked if self._verify else _deflate
        self._pending.append(self._pool.submit(work, self._zlib, block, zdict, self._level))
        # Bounded memory: at most one block waiting per worker beyond the ones running.
        while len(self._pending) > 2 * self._threads:
            self._write_next()

    def _write_next(self) -> None:
        result = self._pending.popleft().result()
        if self._verify:
            encoded, retried = result
            self.retried_blocks += retried
        else:
            encoded = result
        self._raw.write(encoded)

    def flush(self) -> None:  # a flush mid-stream would change the bytes; close finishes the stream
        pass

    def close(self) -> None:
        """Finish the stream. After a failed write this only stops the workers: the error
        was raised already and the stream is not finished."""
        if self._closed:
            return
        try:
            if self._buffer:
                self._submit(bytes(self._buffer))
                self._buffer = bytearray()
            while self._pending:
                self._write_next()
            self._raw.write(_FINAL_BLOCK)
            self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))
        finally:
            self._abort()

    def _abort(self) -> None:
        self._closed = True
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)

    def __enter__(self) -> "BlockGzipWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
