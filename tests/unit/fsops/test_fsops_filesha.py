"""file_sha256: the same digest as hashlib for every size around its read strategies."""

import hashlib
import os

import pytest

from mason.fsops.digest import CHUNK, SMALL_FILE, file_sha256


@pytest.mark.parametrize("size", [0, 1, SMALL_FILE - 1, SMALL_FILE, SMALL_FILE + 1, CHUNK, 3 * CHUNK + 17])
def test_file_sha256_matches_hashlib(tmp_path, size):
    data = os.urandom(size)
    p = tmp_path / "f"
    p.write_bytes(data)
    assert file_sha256(str(p)) == hashlib.sha256(data).hexdigest()


def test_cache_is_used_only_when_stat_matches(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"one")
    cache: dict = {}
    first = file_sha256(str(p), cache=cache)
    assert len(cache) == 1
    p.write_bytes(b"two, longer")
    assert file_sha256(str(p), cache=cache) == hashlib.sha256(b"two, longer").hexdigest() != first
