"""Decompressing and hashing a layer ahead of the code that parses and writes it.

A layer's extraction is three kinds of work in one loop: decompressing the blob, hashing the
tar (its diff_id), and parsing members and writing files. The first two are C calls that
release the GIL; the third is Python. Done in one thread they add up (the Debian base:
0.43 s of 1.19 s decompressing and hashing); with the first two in a worker thread a chunk
ahead, they overlap the writing on a second core. Memory stays bounded: at most ``depth``
chunks are read ahead.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

_CHUNK = 1 << 20
_DEPTH = 8
_POLL = 0.1       # how often a worker waiting on a full queue checks it was told to stop


class _Readable(Protocol):
    def readinto(self, buf) -> int: ...


class ReadAhead:
    """``readinto`` over ``source``, whose own ``readinto`` runs in a worker thread; an error
    the worker met is raised by the ``readinto`` that reaches it. ``close`` stops the worker."""

    def __init__(self, source: _Readable, *, name: str = "mason-layer-read",
                 chunk: int = _CHUNK, depth: int = _DEPTH):
        self._source = source
        self._chunk = chunk
        self._queue: queue.Queue[memoryview | BaseException | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._pending = memoryview(b"")
        self._ended = False
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                buf = bytearray(self._chunk)
                n = self._source.readinto(buf)
                if not n:
                    self._put(None)
                    return
                self._put(memoryview(buf)[:n])
        except BaseException as err:  # noqa: BLE001 - handed to the reader, raised there
            self._put(err)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def readinto(self, buf) -> int:
        target = memoryview(buf).cast("B")
        filled = 0
        while filled < len(target):
            if not self._pending:
                if self._ended or (filled and self._queue.empty()):
                    break                      # hand over what there is rather than wait
                item = self._failure or self._queue.get()
                if item is None or isinstance(item, BaseException):
                    self._ended = item is None
                    if item is None:
                        break
                    if filled:                 # the bytes before the error first
                        self._failure = item
                        break
                    raise item
                self._pending = item
            n = min(len(self._pending), len(target) - filled)
            target[filled:filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled

    def close(self) -> None:
        """Stop the worker; it ends at its next chunk (a source blocked in a read ends when
        its owner closes it or its read fails)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._ended:
            self._thread.join()

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
