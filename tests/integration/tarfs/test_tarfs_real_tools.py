"""Layers checked against independent tools (GNU tar) and a real overlayfs mount."""

import os
import struct
import subprocess
import tarfile
from pathlib import Path

import pytest

from mason.tarfs.compress import Compression
from mason.tarfs.entries import LayerOptions
from mason.tarfs.extract import ExtractOptions, extract_layer
from mason.tarfs.writer import write_layer
from tarfs_helpers import make_tar, member, tree

# VFS_CAP_REVISION_2 with CAP_NET_RAW (bit 13) permitted and effective.
CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def full_source(root: Path) -> list[str]:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/ping").write_bytes(b"\x7fELF ping")
    os.chown(root / "usr/bin/ping", 0, 0)
    os.setxattr(root / "usr/bin/ping", "security.capability", CAP_NET_RAW)
    (root / "usr/bin/su").write_bytes(b"\x7fELF su")
    os.chmod(root / "usr/bin/su", 0o4755)
    os.link(root / "usr/bin/su", root / "usr/bin/su2")
    (root / "home/user").mkdir(parents=True)
    (root / "home/user/.profile").write_text("PS1=$ \n")
    os.chown(root / "home/user/.profile", 1000, 1001)
    os.chown(root / "home/user", 1000, 1001)
    (root / "dev").mkdir()
    os.mknod(root / "dev/null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(root / "dev/loop9", 0o660 | 0o060000, os.makedev(7, 9))
    os.chown(root / "dev/loop9", 0, 6)
    os.chmod(root / "dev/loop9", 0o660)  # mknod's mode went through the umask
    os.chmod(root / "dev/null", 0o666)
    os.mkfifo(root / "dev/initctl", 0o600)
    os.symlink("/usr/bin/su", root / "usr/bin/sudo")
    (root / "tmp").mkdir(mode=0o777)
    os.chmod(root / "tmp", 0o1777)
    os.setxattr(root / "home/user", "trusted.note", b"kept")
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for n in dirnames + filenames:
            os.utime(os.path.join(dirpath, n), (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return ["usr/bin/ping", "usr/bin/su", "usr/bin/su2", "usr/bin/sudo", "home/user/.profile",
            "dev/null", "dev/loop9", "dev/initctl", "tmp"]


def test_gnu_tar_reads_what_mason_writes(tmp_path):
    src = tmp_path / "src"
    paths = full_source(src)
    blob = write_layer(src, paths, out_dir=tmp_path / "blobs", options=LayerOptions())
    listing = subprocess.run(["tar", "-tvzf", str(blob.path), "--numeric-owner"], check=True,
                             capture_output=True, text=True).stdout
    lines = {line.split()[-1] if " -> " not in line and " link to " not in line
             else line.split()[5]: line for line in listing.splitlines()}
    assert lines["usr/bin/su"].startswith("-rwsr-xr-x 0/0")
    assert lines["home/user/.profile"].startswith("-rw-r--r-- 1000/1001")
    assert lines["dev/loop9"].startswith("brw-rw---- 0/6") and "7,9" in lines["dev/loop9"]
    assert lines["tmp/"].startswith("drwxrwxrwt")
    assert "link to usr/bin/su" in lines["usr/bin/su2"]
    out = tmp_path / "gnu"
    out.mkdir()
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xzpf",
                    str(blob.path), "-C", str(out)], check=True)
    expected = tree(src)
    got = tree(out)
    assert got == expected
    assert os.getxattr(out / "usr/bin/ping", "security.capability") == CAP_NET_RAW


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_mason_extracts_what_gnu_tar_writes(tmp_path, compression):
    src = tmp_path / "src"
    full_source(src)
    flag = {"gzip": "-z", "zstd": "--zstd", "none": "-a"}[compression]
    tarball = tmp_path / "layer.tar"
    if compression == "zstd" and subprocess.run(["zstd", "--version"], capture_output=True).returncode:
        pytest.fail("zstd CLI missing: add 'zstd' to scripts/setup PKGS")
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", flag, "-cf",
                    str(tarball), "-C", str(src), "."], check=True)
    dest = tmp_path / "dest"
    result = extract_layer(tarball, dest)
    assert result.compression is Compression(compression)
    assert tree(dest) == tree(src)
    assert (dest / "usr/bin/su").stat().st_ino == (dest / "usr/bin/su2").stat().st_ino


def lower_layer() -> bytes:
    return make_tar([
        member("etc", tarfile.DIRTYPE, mode=0o755), member("etc/keep", data=b"k"),
        member("etc/drop", data=b"d"), member("var", tarfile.DIRTYPE, mode=0o755),
        member("var/cache", tarfile.DIRTYPE, mode=0o755), member("var/cache/a", data=b"a"),
        member("var/cache/sub", tarfile.DIRTYPE, mode=0o755), member("var/cache/sub/b", data=b"b"),
        member("opt", tarfile.DIRTYPE, mode=0o755), member("opt/tree", tarfile.DIRTYPE, mode=0o755),
        member("opt/tree/leaf", data=b"l"),
    ])


def upper_layer() -> bytes:
    return make_tar([
        member("etc", tarfile.DIRTYPE, mode=0o755), member("etc/.wh.drop"),
        member("etc/new", data=b"n"),
        member("var", tarfile.DIRTYPE, mode=0o755), member("var/cache", tarfile.DIRTYPE, mode=0o700),
        member("var/cache/fresh", data=b"f"), member("var/cache/.wh..wh..opq"),
        member(".wh.opt"),
    ])


def test_overlay_mode_mounts_to_the_same_tree_as_apply_mode(tmp_path):
    flat = tmp_path / "flat"
    for layer in (lower_layer(), upper_layer()):
        extract_layer(_stream(layer), flat)
    lowers = []
    for i, layer in enumerate((lower_layer(), upper_layer())):
        d = tmp_path / f"layer{i}"
        extract_layer(_stream(layer), d, options=ExtractOptions(mode="overlay"))
        lowers.append(d)
    assert os.stat(lowers[1] / "etc/drop").st_rdev == 0  # 0/0 char device whiteout
    assert os.getxattr(lowers[1] / "var/cache", "trusted.overlay.opaque") == b"y"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lowerdir = ":".join(str(d) for d in reversed(lowers))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lowerdir}", str(mnt)],
                   check=True)
    try:
        assert tree(mnt) == tree(flat)
        assert sorted(os.listdir(mnt / "var/cache")) == ["fresh"]
        assert not (mnt / "opt").exists()
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_overlay_mode_needs_an_empty_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/x").write_text("x")
    from mason.errors import LayerError
    with pytest.raises(LayerError, match="empty"):
        extract_layer(_stream(lower_layer()), tmp_path / "d", options=ExtractOptions(mode="overlay"))


def _stream(data: bytes):
    import io
    return io.BytesIO(data)
