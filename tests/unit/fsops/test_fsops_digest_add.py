"""Content digests for cache keys, and ADD of local archives and plain files."""

import io
import os
import stat
import subprocess
import tarfile

import pytest

from mason.errors import BuildError
from mason.fsops import (AddOptions, SourceTree, add, digest_content, digest_sources,
                         extract_tar, is_tar_archive)


class Ignore:
    def __init__(self, *paths):
        self.paths = paths
        self.has_exceptions = False

    def matches(self, rel):
        return any(rel == p or rel.startswith(p + "/") for p in self.paths)


@pytest.fixture
def ctx(tmp_path):
    c = tmp_path / "ctx"
    (c / "src/pkg").mkdir(parents=True)
    (c / "src/main.py").write_text("print(1)\n")
    (c / "src/pkg/mod.py").write_text("x = 1\n")
    (c / "notes.md").write_text("notes")
    os.symlink("main.py", c / "src/entry")
    return c


def dig(c, sources=("src",), **kw):
    kw.setdefault("dest", "/app/")
    return digest_sources(SourceTree(str(c), kw.pop("ignore", None)), list(sources), **kw)


def test_digest_is_stable_and_ignores_mtimes(ctx):
    first = dig(ctx)
    os.utime(ctx / "src/main.py", ns=(5, 5))
    os.utime(ctx / "src/pkg", ns=(5, 5))
    assert dig(ctx).digest == first.digest
    assert first.digest.startswith("sha256:") and len(first.digest) == 71


def test_digest_changes_on_rename_mode_content_link_and_options(ctx):
    base = dig(ctx).digest
    seen = {base}

    def changed():
        d = dig(ctx).digest
        assert d not in seen
        seen.add(d)

    os.rename(ctx / "src/pkg/mod.py", ctx / "src/pkg/mod2.py")
    changed()
    os.chmod(ctx / "src/main.py", 0o755)
    changed()
    (ctx / "src/main.py").write_text("print(2)\n")
    changed()
    os.unlink(ctx / "src/entry")
    os.symlink("pkg", ctx / "src/entry")
    changed()
    for kw in ({"dest": "/other/"}, {"chown": (1, 1)}, {"chmod": "700"}, {"workdir": "/w"},
               {"excludes": ["*.md"]}, {"parents": True}):
        d = dig(ctx, **kw).digest
        assert d not in seen, kw
        seen.add(d)


def test_digest_covers_only_selected_files(ctx):
    base = dig(ctx).digest
    (ctx / "notes.md").write_text("changed")  # not a source
    assert dig(ctx).digest == base
    ign = Ignore("src/pkg")
    ignored = dig(ctx, ignore=ign)
    (ctx / "src/pkg/mod.py").write_text("ignored change")
    assert dig(ctx, ignore=ign).digest == ignored.digest
    assert [e["path"] for e in ignored.manifest] == ["src", "src/entry", "src/main.py"]
    ex = dig(ctx, excludes=["pkg"])
    (ctx / "src/pkg/mod.py").write_text("excluded change")
    assert dig(ctx, excludes=["pkg"]).digest == ex.digest


def test_manifest_records_owner_mode_and_content(ctx):
    m = {e["path"]: e for e in dig(ctx, chown=(7, 8), chmod="u+x").manifest}
    f = m["src/main.py"]
    assert (f["type"], f["uid"], f["gid"], f["size"]) == ("f", 7, 8, 9)
    assert f["mode"] & 0o100
    assert m["src/entry"] == {"path": "src/entry", "type": "l", "link": "main.py", "mode": 0o777,
                              "uid": 7, "gid": 8}


def test_digest_hash_cache_is_used_and_hardlinks_marked(ctx):
    os.link(ctx / "src/main.py", ctx / "src/hl")
    cache = {}
    a = dig(ctx, hash_cache=cache)
    assert len(cache) == 2
    assert dig(ctx, hash_cache=cache).digest == a.digest
    entries = {e["path"]: e for e in a.manifest}
    # walks are sorted: "hl" comes first and carries the content, "main.py" refers to it
    assert entries["src/hl"]["type"] == "f"
    assert (entries["src/main.py"]["type"], entries["src/main.py"]["link"]) == ("h", "src/hl")


def test_digest_missing_source_errors(ctx):
    with pytest.raises(BuildError, match="not found"):
        dig(ctx, sources=["nope"])


def test_digest_content():
    a = digest_content("f", b"x", dest="/d")
    assert a == digest_content("f", b"x", dest="/d")
    assert a != digest_content("g", b"x", dest="/d") != digest_content("f", b"y", dest="/d")


def _make_tar(path, compression):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo("top")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o750, 1000
        tf.addfile(d)
        f = tarfile.TarInfo("top/file")
        f.size, f.mode, f.uid, f.gid, f.mtime = 5, 0o604, 12, 34, 2000
        tf.addfile(f, io.BytesIO(b"hello"))
        s = tarfile.TarInfo("top/sym")
        s.type, s.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(s)
        h = tarfile.TarInfo("top/hard")
        h.type, h.linkname = tarfile.LNKTYPE, "top/file"
        tf.addfile(h)
    data = raw.getvalue()
    cmd = {"gzip": ["gzip", "-c"], "bzip2": ["bzip2", "-c"], "xz": ["xz", "-c"],
           "zstd": ["zstd", "-q", "-c"], None: ["cat"]}[compression]
    path.write_bytes(subprocess.run(cmd, input=data, capture_output=True, check=True).stdout)


@pytest.mark.root
@pytest.mark.parametrize("compression", [None, "gzip", "bzip2", "xz", "zstd"])
def test_add_extracts_local_archives_detected_by_content(tmp_path, compression):
    ctx, root = tmp_path / "ctx", tmp_path / "root"
    ctx.mkdir(), root.mkdir()
    _make_tar(ctx / "payload.bin", compression)  # the name says nothing
    assert is_tar_archive(str(ctx / "payload.bin"))
    res = add(SourceTree(str(ctx)), ["payload.bin"], str(root), "/opt/x", work_dir=str(tmp_path))
    f = os.lstat(root / "opt/x/top/file")
    assert (root / "opt/x/top/file").read_bytes() == b"hello"
    assert (f.st_uid, f.st_gid, stat.S_IMODE(f.st_mode), f.st_mtime) == (12, 34, 0o604, 2000)
    assert stat.S_IMODE(os.lstat(root / "opt/x/top").st_mode) == 0o750
    assert os.lstat(root / "opt/x/top").st_mtime == 1000
    assert os.readlink(root / "opt/x/top/sym") == "/etc/passwd"
    assert os.lstat(root / "opt/x/top/hard").st_ino == f.st_ino
    assert "/opt/x/top/file" in res.written


@pytest.mark.root
def test_add_archive_with_chown_and_unpack_false(tmp_path):
    ctx, root = tmp_path / "ctx", tmp_path / "root"
    ctx.mkdir(), root.mkdir()
    _make_tar(ctx / "a.tar.gz", "gzip")
    add(SourceTree(str(ctx)), ["a.tar.gz"], str(root), "/x/", work_dir=str(tmp_path),
        options=AddOptions(chown=(9, 9)))
    assert os.lstat(root / "x/top/file").st_uid == 9
    add(SourceTree(str(ctx)), ["a.tar.gz"], str(root), "/y/", work_dir=str(tmp_path),
        options=AddOptions(unpack=False))
    assert (root / "y/a.tar.gz").read_bytes() == (ctx / "a.tar.gz").read_bytes()


def test_add_plain_file_is_copied(tmp_path):
    ctx, root = tmp_path / "ctx", tmp_path / "root"
    ctx.mkdir(), root.mkdir()
    (ctx / "fake.tar.gz").write_bytes(b"\x1f\x8bnot really gzip" * 50)
    add(SourceTree(str(ctx)), ["fake.tar.gz"], str(root), "/f", work_dir=str(tmp_path))
    assert (root / "f").read_bytes() == (ctx / "fake.tar.gz").read_bytes()
    with pytest.raises(BuildError, match="--checksum"):
        add(SourceTree(str(ctx)), ["fake.tar.gz"], str(root), "/f", work_dir=str(tmp_path),
            options=AddOptions(checksum="sha256:" + "0" * 64))


def test_archive_escape_is_refused_and_symlinks_stay_inside(tmp_path):
    root, sentinel = tmp_path / "root", tmp_path / "sentinel"
    root.mkdir(), sentinel.mkdir()
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tf:
        t = tarfile.TarInfo("../escape")
        t.size = 1
        tf.addfile(t, io.BytesIO(b"x"))
    with pytest.raises(BuildError, match="'../escape'.*outside"):
        extract_tar(str(bad), str(root), "/")
    sneaky = tmp_path / "sneaky.tar"
    with tarfile.open(sneaky, "w") as tf:
        s = tarfile.TarInfo("link")
        s.type, s.linkname = tarfile.SYMTYPE, str(sentinel)
        tf.addfile(s)
        f = tarfile.TarInfo("link/owned")
        f.size = 1
        tf.addfile(f, io.BytesIO(b"x"))
        h = tarfile.TarInfo("pw")
        h.type, h.linkname = tarfile.LNKTYPE, "/etc/passwd"
        tf.addfile(h)
    with pytest.raises(BuildError, match="hardlink 'pw'"):
        extract_tar(str(sneaky), str(root), "/")
    assert os.listdir(sentinel) == []
    assert (root / str(sentinel).lstrip("/") / "owned").read_bytes() == b"x"


def test_add_several_archives_need_no_trailing_slash(tmp_path):
    """``ADD *.tar /dest`` unpacks every archive into /dest (BuildKit); several plain files
    still need the destination spelled as a directory."""
    ctx, root = tmp_path / "ctx", tmp_path / "root"
    ctx.mkdir(), root.mkdir()
    _make_tar(ctx / "a.tar", None)
    _make_tar(ctx / "b.tar", "gzip")
    add(SourceTree(str(ctx)), ["*.tar"], str(root), "/dest", work_dir=str(tmp_path))
    assert (root / "dest/top/file").read_bytes() == b"hello"
    (ctx / "p1").write_text("1")
    (ctx / "p2").write_text("2")
    with pytest.raises(BuildError, match="must be a directory"):
        add(SourceTree(str(ctx)), ["p1", "p2"], str(root), "/plain", work_dir=str(tmp_path))
