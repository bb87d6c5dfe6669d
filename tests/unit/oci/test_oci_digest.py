import hashlib
import io

import pytest

from mason.errors import DigestMismatchError, ImageError
from mason.oci.digest import VerifyingReader, digest_bytes, digest_stream, parse_digest, verify_bytes

DATA = b"hello mason\n" * 1000
GOOD = "sha256:" + hashlib.sha256(DATA).hexdigest()


def test_parse_sha256_and_sha512():
    assert parse_digest(GOOD) == ("sha256", GOOD[7:])
    d512 = "sha512:" + hashlib.sha512(DATA).hexdigest()
    assert parse_digest(d512)[0] == "sha512"
    assert digest_bytes(DATA, "sha512") == d512


@pytest.mark.parametrize("bad", ["", "sha256", "sha256:abc", "sha256:" + "G" * 64, "SHA256:" + "a" * 64,
                                 "sha256:" + "A" * 64, "md5:" + "a" * 32, "blake3:" + "a" * 64])
def test_invalid_or_unknown_digests_are_refused(bad):
    with pytest.raises(ImageError):
        parse_digest(bad)


def test_unknown_algorithm_message_names_it():
    with pytest.raises(ImageError, match="unsupported digest algorithm 'md5'"):
        parse_digest("md5:" + "a" * 32)


def test_verifying_reader_accepts_matching_content():
    r = VerifyingReader(io.BytesIO(DATA), GOOD, len(DATA), "blob")
    out = b""
    while chunk := r.read(777):
        out += chunk
    assert out == DATA and r.verified


def test_verifying_reader_refuses_wrong_digest_at_eof():
    bad = DATA[:-1] + b"X"
    r = VerifyingReader(io.BytesIO(bad), GOOD, len(DATA), "blob x")
    with pytest.raises(DigestMismatchError, match="blob x: content hashes to sha256:"):
        r.read()
    assert not r.verified


def test_verifying_reader_refuses_short_and_long_content():
    with pytest.raises(DigestMismatchError, match="got 11999 bytes, expected 12000"):
        VerifyingReader(io.BytesIO(DATA[:-1]), GOOD, len(DATA), "b").read()
    r = VerifyingReader(io.BytesIO(DATA + b"more"), GOOD, len(DATA), "b")
    with pytest.raises(DigestMismatchError, match="more than the expected 12000 bytes"):
        r.read()


def test_verify_bytes_and_digest_stream():
    assert verify_bytes(DATA, GOOD, len(DATA), "x") == DATA
    with pytest.raises(DigestMismatchError, match="size 12000 does not match the expected 5"):
        verify_bytes(DATA, GOOD, 5, "x")
    assert digest_stream(io.BytesIO(DATA)) == (GOOD, len(DATA))
