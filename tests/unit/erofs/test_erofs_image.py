"""EROFS layer images against the extraction they replace: the kernel mounts the image,
``fsck.erofs`` (erofs-utils, an independent reader) accepts it, and the mounted tree equals
the overlay-mode extraction of the same layer, entry by entry (type, mode, owner, mtime,
content, link target, device numbers, xattrs, hardlink groups). Hostile layers are refused
with the extraction's own errors."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from mason.erofs import layout
from mason.erofs.image import build_image
from mason.erofs.mount import mount_image, probe, unmount
from mason.errors import LayerError
from mason.tarfs.extract import SAFE_DEVICES, ExtractLimits, ExtractOptions, extract_layer
from tests.unit.tarfs.tarfs_helpers import make_tar, member, tree

OPTIONS = ExtractOptions(mode="overlay", allowed_devices=SAFE_DEVICES)


@pytest.fixture
def mounted(tmp_path):
    """``mounted(data) -> (image root, extracted root)`` for one layer; unmounts afterwards."""
    targets = []

    def make(data: bytes, options: ExtractOptions = OPTIONS):
        n = len(targets)
        image, target, extracted = tmp_path / f"img{n}", tmp_path / f"mnt{n}", tmp_path / f"dir{n}"
        result = build_image(io.BytesIO(data), image, options=options)
        check = subprocess.run(["fsck.erofs", str(image)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr + check.stdout
        assert image.stat().st_size % layout.BLOCK == 0
        target.mkdir()
        mount_image(image, target)
        targets.append(target)
        expected = extract_layer(io.BytesIO(data), extracted, options=options)
        assert (result.diff_id, result.entries) == (expected.diff_id, expected.entries)
        return target, extracted

    yield make
    for target in targets:
        unmount(target)


def _same(a: Path, b: Path, implicit: tuple[str, ...] = ()) -> dict:
    """Equal trees. ``implicit``: entries no member describes (missing parents, whiteout
    devices): an extraction stamps them with the time it ran, an image with 0 (the same for
    every build), so their mtimes are compared with that rule instead."""
    left, right = tree(a), tree(b)
    for rel in implicit:
        assert left[rel].pop("mtime") == 0
        right[rel].pop("mtime")
    assert left == right
    for rel in left:
        sa, sb = os.lstat(a / rel), os.lstat(b / rel)
        assert sa.st_nlink == sb.st_nlink, rel
        if rel not in implicit:
            assert sa.st_mtime_ns == sb.st_mtime_ns, rel
    return left


@pytest.mark.root
def test_probe_mounts_the_empty_image(tmp_path):
    assert probe(tmp_path / "probe") is None
    assert list((tmp_path / "probe").iterdir()) == []


@pytest.mark.root
def test_files_links_devices_and_metadata(mounted):
    pax_ns = {"mtime": "1600000000.123456789"}
    layer = [
        member("etc", tarfile.DIRTYPE, mode=0o755, uid=0, gid=0),
        member("etc/empty", data=b""),
        member("etc/one", data=b"1"),
        member("etc/block", data=b"b" * 4096),
        member("etc/block1", data=b"c" * 4097, mode=0o4755, uid=100000, gid=70000),
        member("etc/big", data=os.urandom(1_100_000), pax=pax_ns),
        member("etc/sym", tarfile.SYMTYPE, linkname="one"),
        member("etc/longsym", tarfile.SYMTYPE, linkname="x/" * 1500 + "end"),
        member("etc/hard", tarfile.LNKTYPE, linkname="etc/one"),
        member("etc/hard2", tarfile.LNKTYPE, linkname="etc/one"),
        member("dev", tarfile.DIRTYPE, mode=0o755),
        member("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        member("dev/fifo", tarfile.FIFOTYPE, mode=0o600),
        member("deep/a/b/c/d/file", data=b"implicit parents"),
        member("caps", data=b"bin", pax={"SCHILY.xattr.security.capability":
                                         "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}),
        member("tagged", data=b"t", pax={"SCHILY.xattr.user.one": "1", "SCHILY.xattr.user.two": "x" * 300}),
        member("ro", tarfile.DIRTYPE, mode=0o500, uid=5, gid=6),
        member("ro/inside", data=b"in"),
    ]
    image, extracted = mounted(make_tar(layer))
    seen = _same(image, extracted, implicit=("deep", "deep/a", "deep/a/b", "deep/a/b/c", "deep/a/b/c/d"))
    assert seen["etc/hard"]["link"] == seen["etc/one"]["link"] and os.lstat(image / "etc/one").st_nlink == 3
    assert os.lstat(image / "etc/big").st_mtime_ns == 1_600_000_000_123_456_789
    assert os.readlink(image / "etc/longsym").endswith("end")
    assert os.getxattr(image / "tagged", "user.two") == b"x" * 300


@pytest.mark.root
def test_whiteouts_opaque_dirs_and_replacements(mounted):
    layer = [
        member("gone/.wh.file"),                          # hides a lower file: a 0/0 device
        member(".wh.top"),
        member("mine", data=b"mine"), member(".wh.mine"),  # never hides the layer's own content
        member("opq", tarfile.DIRTYPE), member("opq/.wh..wh..opq"), member("opq/kept", data=b"k"),
        member("implied/.wh..wh..opq"),
        member("swap", data=b"file first"), member("swap", tarfile.DIRTYPE), member("swap/in", data=b"in"),
        member("tree", tarfile.DIRTYPE), member("tree/x", data=b"x"), member("tree", data=b"now a file"),
        member("dup", data=b"old"), member("dup", data=b"new"),
        member("dir", tarfile.DIRTYPE, mode=0o700), member("dir", tarfile.DIRTYPE, mode=0o751, uid=3),
    ]
    image, extracted = mounted(make_tar(layer))
    seen = _same(image, extracted, implicit=("gone", "gone/file", "top", "implied"))
    assert seen["gone/file"]["rdev"] == (0, 0) and seen["top"]["rdev"] == (0, 0)
    assert "mine" in seen and seen["mine"]["data"] == b"mine"
    assert seen["opq"]["xattrs"] == {"trusted.overlay.opaque": b"y"}
    assert seen["implied"]["xattrs"] == {"trusted.overlay.opaque": b"y"}
    assert seen["tree"]["data"] == b"now a file" and "tree/x" not in seen
    assert seen["dup"]["data"] == b"new"


@pytest.mark.root
def test_large_directories_and_name_order(mounted):
    """Hundreds of entries span several directory blocks; lookups (binary search over sorted
    names, "." and ".." among them) must find every one, as ``tree`` lstat()s each."""
    names = [f"f{i:04d}" for i in range(700)] + ["-dash", ".dot", "..dots", "A", "a", "~", "\u00fc", "x" * 255]
    layer = [member("d", tarfile.DIRTYPE)] + [member(f"d/{n}", data=n.encode()) for n in names]
    image, extracted = mounted(make_tar(layer))
    _same(image, extracted)
    assert sorted(os.listdir(image / "d")) == sorted(names)
    listing = subprocess.run(["ls", "-fa", str(image / "d")], capture_output=True, text=True).stdout.split()
    assert "." in listing and ".." in listing
    assert os.stat(image / "d").st_size >= 3 * layout.BLOCK


def test_a_gzip_layer_and_its_diff_id(tmp_path):
    import gzip
    import hashlib

    tar = make_tar([member("a", data=b"a" * 10_000)])
    result = build_image(io.BytesIO(gzip.compress(tar)), tmp_path / "img", options=OPTIONS,
                         expected_diff_id="sha256:" + hashlib.sha256(tar).hexdigest())
    assert result.compression.value == "gzip"
    from mason.errors import DigestMismatchError

    with pytest.raises(DigestMismatchError):
        build_image(io.BytesIO(tar), tmp_path / "img2", options=OPTIONS, expected_diff_id="sha256:" + "0" * 64)


HOSTILE = [
    ([member("../sentinel/passwd", data=b"pwned")], r"'\.\.'"),
    ([member("link", tarfile.SYMTYPE, linkname="/etc"), member("link/passwd", data=b"pwned")],
     r"'link/passwd'.*'link' is a symbolic link"),
    ([member("f", data=b"x"), member("f/g", data=b"x")], r"'f/g'.*'f' is not a directory"),
    ([member("pw", tarfile.LNKTYPE, linkname="/etc/passwd")], r"absolute name"),
    ([member("pw", tarfile.LNKTYPE, linkname="etc/passwd")], r"does not exist in the layer"),
    ([member("d", tarfile.DIRTYPE), member("h", tarfile.LNKTYPE, linkname="d")], r"is a directory"),
    ([member("h", tarfile.LNKTYPE, linkname=".wh.x")], r"not a linkable"),
    ([member("h", tarfile.LNKTYPE, linkname="h")], r"hardlink to itself"),
    ([member(".wh..")], r"whiteout|'\.\.'"),
    ([member(".wh..wh.aufs", data=b"x")], r"whiteout metadata"),
    ([member(".wh.d/x", data=b"x")], r"whiteout name used as a directory"),
    ([member("d", tarfile.DIRTYPE, pax={"SCHILY.xattr.trusted.overlay.redirect": "/x"})], r"trusted.overlay"),
    ([member("sda", tarfile.BLKTYPE, devmajor=8, devminor=0)], r"block device 8:0 is not allowed"),
    ([member("mem", tarfile.CHRTYPE, devmajor=1, devminor=1)], r"character device 1:1 is not allowed"),
    ([member(".", tarfile.SYMTYPE, linkname="/")], r"cannot replace the root"),
]


@pytest.mark.parametrize("layer,match", HOSTILE)
def test_hostile_layers_are_refused_like_extraction(tmp_path, layer, match):
    data = make_tar(layer)
    with pytest.raises(LayerError, match=match):
        build_image(io.BytesIO(data), tmp_path / "img", options=OPTIONS)
    with pytest.raises(LayerError, match=match):
        extract_layer(io.BytesIO(data), tmp_path / "dir", options=OPTIONS)


def test_limits_apply(tmp_path):
    data = make_tar([member(f"f{i}", data=b"") for i in range(50)])
    with pytest.raises(LayerError, match="more than 10 entries"):
        build_image(io.BytesIO(data), tmp_path / "img",
                    options=ExtractOptions(mode="overlay", limits=ExtractLimits(max_entries=10)))


def test_what_the_writer_cannot_encode_is_said_so(tmp_path):
    data = make_tar([member("f", data=b"x", pax={"SCHILY.xattr.system.custom": "v"})])
    with pytest.raises(layout.Unrepresentable, match="system.custom"):
        build_image(io.BytesIO(data), tmp_path / "img", options=OPTIONS)
    with pytest.raises(layout.Unrepresentable):
        build_image(io.BytesIO(data), tmp_path / "img", options=ExtractOptions(mode="overlay", skeleton=True))
