"""The block gzip writer: one function of the input bytes, checked encodings when asked."""

import gzip
import hashlib
import io
import random
import zlib

import pytest
from isal import igzip

from mason.errors import LayerError
from mason.tarfs import gzipblocks
from mason.tarfs.gzipblocks import BlockGzipWriter

BLOCK = 64 * 1024


def _data(size: int) -> bytes:
    """Compressible but not trivial: text-like runs mixed with random bytes."""
    rng = random.Random(7)
    parts, total = [], 0
    while total < size:
        part = rng.choice([rng.randbytes(rng.randint(1, 3000)),
                           (b"usr/lib/python3/%d " % rng.randint(0, 999)) * rng.randint(1, 200)])
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def _write(data: bytes, *, threads=2, level=1, verify=False, splits=None) -> bytes:
    out = io.BytesIO()
    w = BlockGzipWriter(out, level=level, threads=threads, block_size=BLOCK, verify=verify)
    pos = 0
    for n in splits or [len(data)]:
        w.write(data[pos:pos + n])
        pos += n
    w.write(data[pos:])
    w.close()
    assert not out.closed
    return out.getvalue()


def test_round_trip_and_one_member_without_mtime():
    data = _data(5 * BLOCK + 123)
    blob = _write(data)
    assert gzip.decompress(blob) == data
    assert blob[4:8] == b"\0\0\0\0"


def test_bytes_do_not_depend_on_threads_splits_or_verification():
    data = _data(7 * BLOCK + 999)
    reference = _write(data, threads=1)
    rng = random.Random(3)
    splits = [rng.randint(1, 3 * BLOCK) for _ in range(5)]
    assert _write(data, threads=3) == reference
    assert _write(data, threads=2, splits=splits) == reference
    assert _write(data, threads=2, verify=True, splits=splits) == reference


@pytest.mark.parametrize("size", [0, 1, 10_240, BLOCK, 3 * BLOCK + 17])
def test_any_gzip_reader_decodes_it(size):
    """zlib (Go's and Docker's readers are zlib-compatible), Python's gzip and ISA-L's reader."""
    data = _data(size)
    blob = _write(data)
    assert zlib.decompress(blob, wbits=31) == data
    with igzip.open(io.BytesIO(blob)) as f:
        assert f.read() == data
    assert gzip.decompress(blob) == data


def test_a_disagreeing_encoding_is_outvoted(monkeypatch):
    """Two runs that differ are settled by a third; the odd one never reaches the blob."""
    real = gzipblocks._deflate
    calls = {"n": 0}

    def flaky(isal_zlib, block, zdict, level):
        calls["n"] += 1
        encoded = real(isal_zlib, block, zdict, level)
        if calls["n"] == 2:                # the second run of the first block: a valid other stream
            return real(isal_zlib, block, zdict, 3)
        return encoded

    data = _data(2 * BLOCK + 5)
    reference = _write(data, threads=1)
    monkeypatch.setattr(gzipblocks, "_deflate", flaky)
    out = io.BytesIO()
    w = BlockGzipWriter(out, level=1, threads=1, block_size=BLOCK, verify=True)
    w.write(data)
    w.close()
    assert out.getvalue() == reference
    assert w.retried_blocks == 1


def test_three_encodings_fail_the_layer(monkeypatch):
    real = gzipblocks._deflate
    levels = iter([1, 2, 3] * 10)
    monkeypatch.setattr(gzipblocks, "_deflate",
                        lambda isal_zlib, block, zdict, level: real(isal_zlib, block, zdict, next(levels)))
    w = BlockGzipWriter(io.BytesIO(), level=1, threads=1, block_size=BLOCK, verify=True)
    w.write(_data(BLOCK + 1))
    with pytest.raises(LayerError, match="three different encodings"):
        w.close()


def test_a_block_error_surfaces_and_close_does_not_hang(monkeypatch):
    def broken(isal_zlib, block, zdict, level):
        raise MemoryError("no room")

    monkeypatch.setattr(gzipblocks, "_deflate", broken)
    w = BlockGzipWriter(io.BytesIO(), level=1, threads=2, block_size=BLOCK, verify=False)
    with pytest.raises(MemoryError):
        w.write(_data(10 * BLOCK))
        w.close()
    w.close()                               # a second close after the failure is a no-op
    with pytest.raises(ValueError):
        w.write(b"x")


def test_memory_stays_bounded_with_slow_output():
    """Blocks waiting for their turn are bounded by the thread count, whatever the input size."""
    class Counting(io.BytesIO):
        pass

    out = Counting()
    w = BlockGzipWriter(out, level=1, threads=2, block_size=BLOCK, verify=False)
    for _ in range(40):
        w.write(_data(BLOCK))
        assert len(w._pending) <= 4
    w.close()
    assert hashlib.sha256(gzip.decompress(out.getvalue())).digest() == hashlib.sha256(_data(BLOCK) * 40).digest()
