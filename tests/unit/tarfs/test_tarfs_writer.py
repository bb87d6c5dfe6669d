import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from mason.errors import LayerError
from mason.tarfs.compress import Compression
from mason.tarfs.entries import EntryType, LayerEntry, LayerOptions
from mason.tarfs.writer import opaque_entry, whiteout_entry, write_entries, write_layer


def build_source(root: Path) -> list[str]:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"#!/bin/sh\necho tool\n")
    os.chmod(root / "usr/bin/tool", 0o4755)
    os.link(root / "usr/bin/tool", root / "usr/bin/tool-alias")
    os.symlink("tool", root / "usr/bin/link")
    os.mkfifo(root / "usr/fifo")
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    os.setxattr(root / "usr/bin/tool", "user.origin", b"\x00\xffbinary")
    return ["usr/bin/tool", "usr/bin/tool-alias", "usr/bin/link", "usr/fifo", "tmp"]


def members(blob_path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(blob_path) as tf:
        return tf.getmembers()


def test_layer_contents_order_and_metadata(tmp_path):
    src = tmp_path / "src"
    paths = build_source(src)
    blob = write_layer(src, reversed(paths), whiteouts=["usr/gone", "etc"], opaque_dirs=["tmp"],
                       out_dir=tmp_path / "blobs")
    assert blob.path == tmp_path / "blobs" / blob.digest.split(":")[1]
    assert blob.size == blob.path.stat().st_size
    assert blob.media_type() == "application/vnd.oci.image.layer.v1.tar+gzip"
    raw = gzip.decompress(blob.path.read_bytes())
    import hashlib
    assert blob.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert blob.uncompressed_size == len(raw)
    ms = {m.name: m for m in members(blob.path)}
    # parents included, parents first, whiteouts/opaque before siblings
    assert [m.name for m in members(blob.path)] == [
        ".wh.etc", "tmp", "tmp/.wh..wh..opq", "usr", "usr/.wh.gone", "usr/bin", "usr/bin/link",
        "usr/bin/tool", "usr/bin/tool-alias", "usr/fifo"]
    assert ms["usr/bin/tool"].mode == 0o4755 and ms["usr/bin/tool"].isreg()
    assert ms["usr/bin/tool-alias"].islnk() and ms["usr/bin/tool-alias"].linkname == "usr/bin/tool"
    assert ms["usr/bin/link"].issym() and ms["usr/bin/link"].linkname == "tool"
    assert ms["usr/fifo"].isfifo()
    assert ms["tmp"].isdir() and ms["tmp"].mode == 0o1777
    assert all(m.uname == "" and m.gname == "" for m in ms.values())
    assert ms["usr/bin/tool"].pax_headers["SCHILY.xattr.user.origin"].encode(
        "utf-8", "surrogateescape") == b"\x00\xffbinary"
    assert ms[".wh.etc"].size == 0 and ms[".wh.etc"].mtime == 0


def test_same_input_same_digest_and_fixed_mtime_hides_mtimes(tmp_path):
    src = tmp_path / "src"
    paths = build_source(src)
    opts = LayerOptions(fixed_mtime=1_700_000_000)
    a = write_layer(src, paths, out_dir=tmp_path / "a", options=opts)
    b = write_layer(src, paths, out_dir=tmp_path / "b", options=opts)
    assert (a.digest, a.diff_id) == (b.digest, b.diff_id)
    for p in paths:
        os.utime(src / p, (5, 123_456_789), follow_symlinks=False)
    c = write_layer(src, paths, out_dir=tmp_path / "c", options=opts)
    assert c.digest == a.digest
    d = write_layer(src, paths, out_dir=tmp_path / "d")
    assert d.digest != a.digest  # without the option the new mtimes show
    assert {m.mtime for m in members(c.path)} == {1_700_000_000}


def test_mtime_clamp_lowers_only_later_times(tmp_path):
    src = tmp_path / "src"
    (src).mkdir()
    (src / "old").write_text("o")
    (src / "new").write_text("n")
    os.utime(src / "old", (100, 100))
    os.utime(src / "new", (10_000, 10_000))
    blob = write_layer(src, ["old", "new"], out_dir=tmp_path / "o",
                       options=LayerOptions(mtime_clamp=5_000, compression=Compression.NONE))
    assert {m.name: m.mtime for m in members(blob.path)} == {"new": 5_000, "old": 100}
    with pytest.raises(LayerError, match="exclusive"):
        LayerOptions(mtime_clamp=1, fixed_mtime=1)


def test_owner_override_and_chown_hook(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    blob = write_layer(src, ["f"], out_dir=tmp_path / "o",
                       options=LayerOptions(uid=1000, gid=1000, chown=lambda u, g: (u + 1, g + 2)))
    (m,) = members(blob.path)
    assert (m.uid, m.gid) == (1001, 1002)


def test_zstd_and_uncompressed_layers_describe_themselves(tmp_path):
    src = tmp_path / "src"
    build_source(src)
    z = write_layer(src, ["usr/bin/tool"], out_dir=tmp_path / "z",
                    options=LayerOptions(compression=Compression.ZSTD))
    n = write_layer(src, ["usr/bin/tool"], out_dir=tmp_path / "n",
                    options=LayerOptions(compression=Compression.NONE))
    assert z.diff_id == n.diff_id == n.digest
    assert z.path.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    assert z.media_type() == "application/vnd.oci.image.layer.v1.tar+zstd"
    assert n.media_type(docker=True) == "application/vnd.docker.image.rootfs.diff.tar"


def test_write_entries_from_bytes_and_paths_in_canonical_order(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "app.py").write_text("print(1)\n")
    entries = [
        LayerEntry("app/app.py", EntryType.FILE, mode=0o755, uid=1000, gid=1000, content=ctx / "app.py"),
        LayerEntry("app", EntryType.DIR, mode=0o755, uid=1000, gid=1000),
        LayerEntry("app/VERSION", EntryType.FILE, content=b"1.0\n", xattrs=(("user.k", b"v"),)),
        LayerEntry("app/dev", EntryType.CHAR, mode=0o600, devmajor=1, devminor=3),
        LayerEntry("app/latest", EntryType.SYMLINK, mode=0o777, linkname="/app/app.py"),
        whiteout_entry("app/old"),
        opaque_entry("app"),
    ]
    a = write_entries(entries, tmp_path / "a")
    b = write_entries(list(reversed(entries)), tmp_path / "b")
    assert a.digest == b.digest
    ms = members(a.path)
    assert [m.name for m in ms] == ["app", "app/.wh..wh..opq", "app/.wh.old", "app/VERSION",
                                   "app/app.py", "app/dev", "app/latest"]
    with tarfile.open(a.path) as tf:
        assert tf.extractfile("app/app.py").read() == b"print(1)\n"
    assert (ms[4].uid, ms[4].mode) == (1000, 0o755)
    assert (ms[5].devmajor, ms[5].devminor) == (1, 3)


def test_refusals(tmp_path):
    with pytest.raises(LayerError, match="given twice"):
        write_entries([LayerEntry("a", EntryType.DIR), LayerEntry("a/", EntryType.DIR)], tmp_path)
    with pytest.raises(LayerError, match="'..'"):
        write_entries([LayerEntry("../x", EntryType.FILE)], tmp_path)
    with pytest.raises(LayerError, match="must be relative"):
        write_layer(tmp_path, ["/etc/passwd"], out_dir=tmp_path / "o")
    with pytest.raises(LayerError, match="does not exist"):
        write_layer(tmp_path, ["missing"], out_dir=tmp_path / "o")
    with pytest.raises(LayerError, match="both written and deleted"):
        (tmp_path / "x").write_text("x")
        write_layer(tmp_path, ["x"], whiteouts=["x"], out_dir=tmp_path / "o")
    # a failed write leaves no blob and no temporary file behind
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_never_reads_through_a_symlinked_parent(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    os.symlink(outside, src / "link")
    with pytest.raises(LayerError, match="symbolic link"):
        write_layer(src, ["link/secret"], out_dir=tmp_path / "o")
