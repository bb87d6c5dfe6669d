"""Skeleton extraction: directories, links and whiteouts as in a full extraction, regular
files and hardlinks left out and named in ``skipped``."""

import hashlib
import os
import stat
import tarfile

import pytest

from mason.errors import DigestMismatchError
from mason.tarfs.extract import ExtractOptions, extract_layer
from tarfs_helpers import make_tar, member, tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay-mode extraction makes whiteout devices")

LAYER = make_tar([
    member("a/", tarfile.DIRTYPE, mode=0o750, uid=3, mtime=1_500_000_000),
    member("a/f", data=b"content"),
    member("a/h", tarfile.LNKTYPE, linkname="a/f"),
    member("a/s", tarfile.SYMTYPE, linkname="f"),
    member("a/.wh.gone"),
    member("b/c/deep", data=b"deep"),
    member("d", tarfile.DIRTYPE, mtime=1_500_000_001),
    member("d", data=b"a file replacing the directory"),
])


@pytest.mark.root
def test_skeleton_has_the_shape_and_no_files(tmp_path):
    blob = tmp_path / "l.tar"
    blob.write_bytes(LAYER)
    full = tmp_path / "full"
    skel = tmp_path / "skel"
    extract_layer(blob, full, options=ExtractOptions(mode="overlay"))
    result = extract_layer(blob, skel, options=ExtractOptions(mode="overlay", skeleton=True),
                           expected_diff_id="sha256:" + hashlib.sha256(LAYER).hexdigest())
    assert result.skipped == {"/a/f", "/a/h", "/b/c/deep", "/d"}
    full_tree = tree(full)
    for rel in ("a/f", "a/h", "b/c/deep", "d"):
        assert not os.path.lexists(skel / rel)
        full_tree.pop(rel)
    full_tree.pop("b"), full_tree.pop("b/c")        # implicit parents: "now" mtimes differ
    skel_tree = tree(skel)
    skel_tree.pop("b"), skel_tree.pop("b/c")
    assert skel_tree == full_tree                       # dirs, symlink, whiteout device identical
    assert stat.S_ISCHR(os.lstat(skel / "a" / "gone").st_mode)


@pytest.mark.root
def test_skeleton_still_verifies_the_diff_id(tmp_path):
    blob = tmp_path / "l.tar"
    blob.write_bytes(LAYER)
    with pytest.raises(DigestMismatchError):
        extract_layer(blob, tmp_path / "skel", options=ExtractOptions(mode="overlay", skeleton=True),
                      expected_diff_id="sha256:" + "0" * 64)
