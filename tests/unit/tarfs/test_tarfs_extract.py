import io
import os
import tarfile
from pathlib import Path

import pytest

from mason.errors import DigestMismatchError, LayerError
from mason.tarfs.compress import Compression
from mason.tarfs.entries import LayerOptions
from mason.tarfs.extract import ExtractOptions, extract_layer
from mason.tarfs.writer import write_layer
from tarfs_helpers import make_tar, member, tree

ROOT = os.geteuid() == 0
OPTS = ExtractOptions(same_owner=ROOT, allow_devices=ROOT)


def extract(data: bytes, dest: Path, **kw):
    return extract_layer(io.BytesIO(data), dest, options=kw.pop("options", OPTS), **kw)


def build_source(root: Path) -> list[str]:
    (root / "etc/app").mkdir(parents=True)
    (root / "etc/app/conf").write_text("a=1\n")
    (root / "bin").mkdir()
    (root / "bin/run").write_bytes(b"\x7fELF" + bytes(range(256)) * 40)
    os.chmod(root / "bin/run", 0o2755)
    os.link(root / "bin/run", root / "bin/run2")
    os.symlink("/bin/run", root / "bin/abs")
    os.symlink("../etc/app", root / "bin/rel")
    os.mkfifo(root / "fifo")
    (root / "ro").mkdir()
    (root / "ro/inside").write_text("x")
    os.chmod(root / "ro", 0o555)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    os.setxattr(root / "etc/app/conf", "user.note", b"\x01\x02")
    for p in ("etc/app/conf", "bin/run", "ro/inside", "ro", "tmp", "etc/app", "etc", "bin", "fifo"):
        os.utime(root / p, (1_500_000_000 + len(p), 1_500_000_000 + len(p)))
    return ["etc/app/conf", "bin/run", "bin/run2", "bin/abs", "bin/rel", "fifo", "ro/inside", "tmp"]


@pytest.mark.parametrize("compression", list(Compression))
def test_round_trip_keeps_everything(tmp_path, compression):
    src = tmp_path / "src"
    paths = build_source(src)
    blob = write_layer(src, paths, out_dir=tmp_path / "blobs",
                       options=LayerOptions(compression=compression))
    dest = tmp_path / "dest"
    result = extract_layer(blob.path, dest, options=OPTS, expected_diff_id=blob.diff_id)
    assert result.compression is compression and result.diff_id == blob.diff_id
    assert tree(dest, owners=ROOT) == tree(src, owners=ROOT)
    assert (dest / "bin/run").stat().st_ino == (dest / "bin/run2").stat().st_ino


def test_wrong_diff_id_is_reported(tmp_path):
    data = make_tar([member("a", data=b"x")])
    with pytest.raises(DigestMismatchError, match="expected sha256:00"):
        extract(data, tmp_path / "d", expected_diff_id="sha256:" + "0" * 64)


def lower(root: Path) -> None:
    (root / "keep").mkdir(parents=True)
    (root / "keep/old").write_text("lower")
    (root / "opq/sub").mkdir(parents=True)
    (root / "opq/old").write_text("lower")
    (root / "opq/sub/old").write_text("lower")
    (root / "gone").mkdir()
    (root / "gone/deep").write_text("lower")
    (root / "file").write_text("lower")


@pytest.mark.parametrize("marker_last", [False, True])
def test_apply_whiteouts_and_opaque_in_any_order(tmp_path, marker_last):
    root = tmp_path / "root"
    lower(root)
    layer = [member("opq/new", data=b"upper"), member("opq/sub/new", data=b"upper"),
             member(".wh.gone"), member(".wh.file"), member("keep/.wh.old"),
             member(".wh.never-existed"), member("opq/.wh..wh..opq")]
    if not marker_last:
        layer.insert(0, layer.pop())
    extract(make_tar(layer), root)
    listing = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert listing == ["keep", "opq", "opq/new", "opq/sub", "opq/sub/new"]


def test_own_content_survives_own_whiteout(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    extract(make_tar([member("a", data=b"mine"), member(".wh.a")]), root)
    assert (root / "a").read_bytes() == b"mine"


def test_duplicates_later_wins(tmp_path):
    root = tmp_path / "root"
    layer = [member("x", data=b"first"), member("x", data=b"second"),
             member("d", tarfile.DIRTYPE, mode=0o700), member("d/f", data=b"in d"),
             member("d", data=b"now a file"),
             member("s", tarfile.SYMTYPE, linkname="x"), member("s", tarfile.DIRTYPE, mode=0o750)]
    extract(make_tar(layer), root)
    assert (root / "x").read_bytes() == b"second"
    assert (root / "d").read_bytes() == b"now a file"
    assert (root / "s").is_dir() and not (root / "s").is_symlink()
    assert (root / "s").stat().st_mode & 0o7777 == 0o750


def test_directory_mtime_and_mode_set_after_contents(tmp_path):
    root = tmp_path / "root"
    layer = [member("d", tarfile.DIRTYPE, mode=0o555, mtime=1000),
             member("d/e", tarfile.DIRTYPE, mode=0o700, mtime=2000),
             member("d/e/f", data=b"x", mtime=3000)]
    extract(make_tar(layer), root)
    assert int((root / "d").stat().st_mtime) == 1000
    assert int((root / "d/e").stat().st_mtime) == 2000
    assert (root / "d").stat().st_mode & 0o7777 == 0o555


def test_absolute_names_are_normalised_inside_root(tmp_path):
    root = tmp_path / "root"
    extract(make_tar([member("/abs/file", data=b"in"), member("./rel/./x", data=b"y")]), root)
    assert (root / "abs/file").read_bytes() == b"in" and (root / "rel/x").read_bytes() == b"y"


def test_hardlink_inside_root(tmp_path):
    root = tmp_path / "root"
    extract(make_tar([member("a/f", data=b"x"), member("b/g", tarfile.LNKTYPE, linkname="a/f")]), root)
    assert (root / "a/f").stat().st_ino == (root / "b/g").stat().st_ino


def test_devices_refused_when_not_allowed(tmp_path):
    data = make_tar([member("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)])
    with pytest.raises(LayerError, match="'dev/null'.*device nodes are not allowed"):
        extract(data, tmp_path / "r", options=ExtractOptions(same_owner=ROOT, allow_devices=False))


def test_gnu_long_names_read(tmp_path):
    data = make_tar([member("long/" + "n" * 200, data=b"gnu")], fmt=tarfile.GNU_FORMAT)
    extract(data, tmp_path / "r")
    assert (tmp_path / "r/long" / ("n" * 200)).read_bytes() == b"gnu"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: ownership")
def test_a_file_in_a_lower_layers_setgid_directory_gets_its_members_group(tmp_path):
    """A new file takes a setgid directory's group: the member's own group must win (the
    owner is set unless the layer made the directory itself)."""
    root = tmp_path / "root"
    lower = make_tar([member("shared", tarfile.DIRTYPE, mode=0o2775, gid=50)])
    upper = make_tar([member("shared/mine", data=b"x", uid=0, gid=0),
                      member("fresh", tarfile.DIRTYPE, mode=0o2775, gid=50),
                      member("fresh/also", data=b"y", uid=0, gid=0),
                      # made by this layer inside a setgid one: setgid and group 50 from mkdir
                      member("shared/sub", tarfile.DIRTYPE, mode=0o755, gid=50),
                      member("shared/sub/f", data=b"z", uid=0, gid=0),
                      member("shared/implicit/g", data=b"w", uid=0, gid=0)])
    for layer in (lower, upper):
        extract_layer(io.BytesIO(layer), root, options=ExtractOptions(mode="apply"))
    assert os.stat(root / "shared").st_mode & 0o7777 == 0o2775
    gids = {p: os.stat(root / p).st_gid for p in ("shared/mine", "fresh/also", "shared/sub/f", "shared/implicit/g")}
    assert gids == dict.fromkeys(gids, 0)
    assert os.stat(root / "fresh").st_gid == 50
