"""The verifying reader over a registry body: a ``read(n)`` function, drained on close."""

import hashlib
import io

import pytest

from mason.errors import DigestMismatchError
from mason.oci.digest import VerifyingReader, digest_bytes, verify_bytes

DATA = bytes(range(256)) * 100
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def reader(data=DATA, digest=DIGEST, size=len(DATA), closed=None):
    source = io.BytesIO(data)
    return VerifyingReader(source.read, digest, size, "blob X", drain_on_close=True,
                           on_close=(lambda: closed.append(True)) if closed is not None else None)


def test_good_stream_reads_through_and_releases():
    closed = []
    with reader(closed=closed) as r:
        assert r.read() == DATA
    assert closed == [True]


def test_wrong_bytes_raise_at_eof():
    bad = bytearray(DATA)
    bad[-1] ^= 1
    r = reader(bytes(bad))
    with pytest.raises(DigestMismatchError, match="blob X: content hashes to sha256:"):
        r.read()


def test_too_long_raises_before_reading_everything():
    r = reader(DATA + b"extra" * 10000)
    with pytest.raises(DigestMismatchError, match="more than the expected"):
        while r.read(4096):
            pass


def test_too_short_is_a_mismatch():
    r = reader(DATA[:-1])
    with pytest.raises(DigestMismatchError, match=f"got {len(DATA) - 1} bytes, expected {len(DATA)}"):
        r.read()


def test_close_drains_and_verifies_a_partly_read_stream():
    bad = bytearray(DATA)
    bad[-1] ^= 1
    r = reader(bytes(bad))
    r.read(10)
    with pytest.raises(DigestMismatchError):
        r.close()
    good = reader()
    good.read(10)
    good.close()
    assert good.bytes_read == len(DATA)


def test_abort_and_exception_exit_do_not_verify():
    closed = []
    with pytest.raises(RuntimeError):
        with reader(b"garbage", closed=closed) as r:
            r.read(3)
            raise RuntimeError("consumer failed")
    assert closed == [True]


def test_unknown_size_still_verified():
    assert reader(size=None).read() == DATA
    with pytest.raises(DigestMismatchError):
        reader(DATA + b"x", size=None).read()


def test_verify_bytes_and_digest_bytes():
    assert digest_bytes(DATA) == DIGEST
    assert verify_bytes(DATA, DIGEST, None, "manifest") == DATA
    with pytest.raises(DigestMismatchError, match="manifest: content hashes to"):
        verify_bytes(DATA + b"x", DIGEST, None, "manifest")


def test_a_stream_source_is_not_drained_on_close_unless_asked():
    """Layout and archive blobs: closing early verifies nothing and reads no further."""
    source = io.BytesIO(DATA)
    r = VerifyingReader(source, DIGEST, len(DATA), "blob")
    r.read(10)
    r.close()
    assert not r.verified and source.closed and r.bytes_read == 10
