"""Hostile layers: each is refused with a LayerError naming the entry, and a sentinel
directory next to the root (what an escape would reach) is left exactly as it was."""

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from mason.errors import LayerError
from mason.tarfs.extract import ExtractLimits, ExtractOptions, extract_layer
from tarfs_helpers import make_tar, member, snapshot

ROOT = os.geteuid() == 0


@pytest.fixture
def env(tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.utime(sentinel / "passwd", (1000, 1000))
    root = tmp_path / "root"
    root.mkdir()
    before = snapshot(sentinel)
    yield root, sentinel
    assert snapshot(sentinel) == before, "something outside the root was touched"
    assert os.stat(sentinel / "passwd").st_nlink == 1


def refuse(root, data, match, **opts):
    opts.setdefault("same_owner", ROOT)
    with pytest.raises(LayerError, match=match):
        extract_layer(io.BytesIO(data), root, options=ExtractOptions(**opts))


def test_dotdot_escape(env):
    root, sentinel = env
    refuse(root, make_tar([member("../sentinel/passwd", data=b"pwned")]),
           r"'\.\./sentinel/passwd'.*'\.\.'")
    refuse(root, make_tar([member("a/../../sentinel/x", data=b"pwned")]), r"'\.\.'")


def test_absolute_symlink_then_file_through_it(env):
    root, sentinel = env
    layer = [member("link", tarfile.SYMTYPE, linkname=str(sentinel)),
             member("link/passwd", data=b"pwned")]
    refuse(root, make_tar(layer), r"'link/passwd'.*'link' is a symbolic link")
    assert os.readlink(root / "link") == str(sentinel)  # the link itself is fine to create


def test_relative_symlink_escape_then_file_through_it(env):
    root, sentinel = env
    layer = [member("d", tarfile.DIRTYPE, mode=0o755),
             member("d/up", tarfile.SYMTYPE, linkname="../../sentinel"),
             member("d/up/new", data=b"pwned")]
    refuse(root, make_tar(layer), r"'d/up/new'.*symbolic link")


def test_symlink_in_lower_layer_is_replaced_not_followed(env):
    """A lower layer's link where this layer has a directory becomes that directory (as
    overlayfs shows the two layers); the link's target is never written."""
    root, sentinel = env
    os.symlink(sentinel, root / "etc")  # a lower layer left a hostile link
    extract_layer(io.BytesIO(make_tar([member("etc/passwd", data=b"pwned")])), root,
                  options=ExtractOptions(same_owner=ROOT))
    assert not os.path.islink(root / "etc") and (root / "etc" / "passwd").read_bytes() == b"pwned"
    os.unlink(root / "etc" / "passwd")
    os.rmdir(root / "etc")
    os.symlink(sentinel, root / "etc")
    extract_layer(io.BytesIO(make_tar([member("etc/.wh.passwd")])), root, options=ExtractOptions(same_owner=ROOT))
    assert os.listdir(root / "etc") == [] and not os.path.islink(root / "etc")
    os.rmdir(root / "etc")
    os.symlink(sentinel, root / "etc")
    refuse(root, make_tar([member("x", tarfile.LNKTYPE, linkname="etc/passwd")]), r"does not exist")


def test_hardlinks_to_outside_files(env):
    root, sentinel = env
    refuse(root, make_tar([member("pw", tarfile.LNKTYPE, linkname="/etc/passwd")]),
           r"'pw'.*absolute name '/etc/passwd'")
    refuse(root, make_tar([member("pw", tarfile.LNKTYPE, linkname="../sentinel/passwd")]), r"'\.\.'")
    refuse(root, make_tar([member("pw", tarfile.LNKTYPE, linkname="etc/passwd")]),
           r"'pw'.*does not exist in the layer")
    assert os.stat("/etc/passwd").st_nlink == 1


def test_hardlink_to_a_whiteout_or_directory(env):
    root, _ = env
    refuse(root, make_tar([member("h", tarfile.LNKTYPE, linkname=".wh.x")]), r"'h'.*not a linkable")
    refuse(root, make_tar([member("d", tarfile.DIRTYPE), member("h", tarfile.LNKTYPE, linkname="d")]),
           r"'h'.*is a directory")


@pytest.mark.parametrize("name", [".wh..", ".wh.", "./.wh..", "a/.wh..."])
def test_whiteout_of_root_or_parent(env, name):
    root, _ = env
    (root / "keep").write_text("k")
    refuse(root, make_tar([member(name)]), "whiteout|'\\.\\.'")
    assert (root / "keep").exists()


def test_aufs_metadata_is_refused(env):
    root, _ = env
    refuse(root, make_tar([member(".wh..wh.plnk/123.456", data=b"x")]), "whiteout")
    refuse(root, make_tar([member(".wh..wh.aufs", data=b"x")]), "whiteout metadata")


def test_overlay_xattrs_from_a_layer_are_refused(env):
    root, _ = env
    refuse(root, make_tar([member("d", tarfile.DIRTYPE,
                                  pax={"SCHILY.xattr.trusted.overlay.redirect": "/x"})]),
           r"'d/?'.*trusted.overlay.redirect")


def test_too_many_entries(env):
    root, _ = env
    data = make_tar([member(f"f{i}", data=b"") for i in range(50)])
    refuse(root, data, "more than 10 entries", limits=ExtractLimits(max_entries=10))


def test_huge_declared_size(env):
    root, _ = env
    info, _ = member("big", size=10 ** 12)
    header = info.tobuf(tarfile.PAX_FORMAT)
    refuse(root, header + b"\0" * 4096, r"'big' declares 1000000000000 bytes",
           limits=ExtractLimits(max_bytes=10 ** 9))
    assert not (root / "big").exists()


def test_decompression_bomb(env):
    root, _ = env
    data = gzip.compress(make_tar([member("zeros", data=b"\0" * 3_000_000)]))
    refuse(root, data, "exceeds the limit of 1000000 bytes", limits=ExtractLimits(max_bytes=1_000_000))


def test_truncated_content(env):
    root, _ = env
    data = make_tar([member("f", data=b"y" * 100_000)])
    refuse(root, data[:50_000], "malformed tar|truncat|'f'")


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_malformed_compressed_streams(env, kind):
    root, _ = env
    tar = make_tar([member("f", data=os.urandom(200_000))])
    blob = gzip.compress(tar) if kind == "gzip" else zstandard.ZstdCompressor(write_checksum=True).compress(tar)
    corrupt = bytearray(blob)
    for i in range(len(corrupt) // 2, len(corrupt) // 2 + 64):
        corrupt[i] ^= 0xFF
    refuse(root, bytes(corrupt), "cannot read|malformed|after the last entry")
    refuse(root, blob[: len(blob) // 2], "cannot read|malformed|after the last entry")


def test_garbage_is_not_a_tar(env):
    root, _ = env
    refuse(root, b"this is not a tar archive at all" * 100, "malformed tar")
