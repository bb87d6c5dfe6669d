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


@pytest.mark.root
@pytest.mark.parametrize("mode", ["overlay", "apply"])
def test_skeleton_from_recorded_headers_equals_the_one_from_the_blob(tmp_path, mode):
    from mason.tarfs.extract import apply_skeleton

    blob = tmp_path / "l.tar"
    blob.write_bytes(LAYER)
    record: list = []
    extract_layer(blob, tmp_path / "full", options=ExtractOptions(mode="apply"), record=record)
    assert [m.name for m in record][:2] == ["a/", "a/f"]
    assert all(not hasattr(m, "data") for m in record)            # headers only
    options = ExtractOptions(mode=mode, skeleton=True)
    from_blob = extract_layer(blob, tmp_path / "skel-blob", options=options)
    skipped = apply_skeleton(record, tmp_path / "skel-headers", label="l", options=options)
    assert skipped == from_blob.skipped == {"/a/f", "/a/h", "/b/c/deep", "/d"}
    blob_tree, header_tree = tree(tmp_path / "skel-blob"), tree(tmp_path / "skel-headers")
    for t in (blob_tree, header_tree):
        t.pop("b"), t.pop("b/c")                       # implicit parents: "now" mtimes differ
    assert header_tree == blob_tree


def test_recorded_headers_make_skeletons_only(tmp_path):
    from mason.errors import LayerError
    from mason.tarfs.extract import apply_skeleton

    with pytest.raises(LayerError, match="skeletons only"):
        apply_skeleton([], tmp_path / "x", label="l", options=ExtractOptions(mode="apply"))


@pytest.mark.root
def test_an_overlay_whiteout_has_its_markers_time(tmp_path):
    """Not the clock's: two extractions a second apart must give equal trees."""
    blob = tmp_path / "w.tar"
    blob.write_bytes(make_tar([member("x/", tarfile.DIRTYPE), member("x/.wh.old", mtime=1_400_000_000)]))
    extract_layer(blob, tmp_path / "out", options=ExtractOptions(mode="overlay"))
    st = os.lstat(tmp_path / "out" / "x" / "old")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert st.st_mtime_ns == 1_400_000_000 * 10**9


UPPER = [
    member("x/y/f", data=b"makes x and x/y implicitly"),
    member("x/y", data=b"a file over the directory this layer made"),
    member("n/", tarfile.DIRTYPE),
    member("n/l", tarfile.SYMTYPE, linkname="t"),
    member("n/l", data=b"a file over this layer's own link"),
    member("n/m/", tarfile.DIRTYPE),
    member("n/m", data=b"a file over this layer's own directory"),
    member("n/plain", data=b"nothing was there"),
]


@pytest.mark.root
@pytest.mark.parametrize("mode", ["overlay", "apply"])
def test_a_left_out_file_replaces_what_its_own_layer_put_at_its_path(tmp_path, mode):
    """A skeleton skips looking for an entry at a left-out file's path in a directory the layer
    made itself; what the layer itself put at that path still goes."""
    upper = tmp_path / "upper.tar"
    upper.write_bytes(make_tar(UPPER))
    skel = tmp_path / "skel"
    result = extract_layer(upper, skel, options=ExtractOptions(mode=mode, skeleton=True))
    assert result.skipped == {"/x/y/f", "/x/y", "/n/l", "/n/m", "/n/plain"}
    for rel in ("x/y", "n/l", "n/m", "n/plain"):
        assert not os.path.lexists(skel / rel), rel
    assert (skel / "x").is_dir() and (skel / "n").is_dir()


@pytest.mark.root
def test_a_left_out_file_replaces_a_lower_layers_entry(tmp_path):
    lower = tmp_path / "lower.tar"
    lower.write_bytes(make_tar([
        member("p/", tarfile.DIRTYPE),
        member("p/q", tarfile.SYMTYPE, linkname="elsewhere"),
        member("p/r/", tarfile.DIRTYPE),
    ]))
    upper = tmp_path / "upper.tar"
    upper.write_bytes(make_tar([member("p/q", data=b"over a link"), member("p/r", data=b"over a directory"),
                                *UPPER]))
    skel = tmp_path / "skel"
    options = ExtractOptions(mode="apply", skeleton=True)
    extract_layer(lower, skel, options=options)
    result = extract_layer(upper, skel, options=options)
    assert {"/p/q", "/p/r", "/n/plain"} <= result.skipped
    for rel in ("p/q", "p/r", "x/y", "n/l", "n/m", "n/plain"):
        assert not os.path.lexists(skel / rel), rel
    assert (skel / "p").is_dir()
