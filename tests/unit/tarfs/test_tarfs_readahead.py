"""The layer read-ahead: the same bytes in the same order, errors where they occurred, a
bounded number of chunks ahead, and a worker that stops when told."""

from __future__ import annotations

import io
import threading

import pytest

from mason.errors import LayerError
from mason.tarfs.readahead import ReadAhead


def _read_all(ahead: ReadAhead, size: int) -> bytes:
    out = bytearray()
    buf = bytearray(size)
    while True:
        n = ahead.readinto(buf)
        if not n:
            return bytes(out)
        out += buf[:n]


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20, 3 << 20])
def test_the_same_bytes_whatever_the_reader_asks_for(size):
    data = bytes(range(256)) * (200 if size < 100 else 20_000) + b"tail"
    with ReadAhead(io.BytesIO(data), chunk=65_536, depth=3) as ahead:
        assert _read_all(ahead, size) == data


class _Failing:
    def __init__(self, good: int):
        self._left = good

    def readinto(self, buf) -> int:
        if self._left <= 0:
            raise LayerError("layer x: uncompressed size exceeds the limit")
        n = min(len(buf), self._left)
        memoryview(buf)[:n] = b"a" * n
        self._left -= n
        return n


def test_an_error_of_the_source_is_raised_after_the_bytes_before_it():
    with ReadAhead(_Failing(100_000), chunk=4096) as ahead:
        got = bytearray()
        buf = bytearray(10_000)
        with pytest.raises(LayerError, match="exceeds the limit"):
            while True:
                n = ahead.readinto(buf)
                got += buf[:n]
        assert bytes(got) == b"a" * 100_000


class _Counting:
    def __init__(self):
        self.reads = 0
        self.lock = threading.Lock()

    def readinto(self, buf) -> int:
        with self.lock:
            self.reads += 1
        memoryview(buf)[:] = b"z" * len(buf)
        return len(buf)


def test_at_most_depth_chunks_are_read_ahead_and_close_stops_the_worker():
    source = _Counting()
    ahead = ReadAhead(source, chunk=1024, depth=4)
    buf = bytearray(1024)
    assert ahead.readinto(buf) == 1024
    thread = ahead._thread
    # the worker fills the queue (4) and holds one more chunk waiting to be queued
    for _ in range(100):
        if source.reads >= 6:
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.1)
    assert source.reads <= 1 + 4 + 1
    ahead.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
