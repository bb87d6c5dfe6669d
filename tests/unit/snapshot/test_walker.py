"""The stat walker: O(files) detection of exactly what changed, in the canonical form."""

import os
from pathlib import Path

from mason.snapshot import walker


def _tree(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "etc/keep").write_text("keep")
    (root / "data").mkdir()
    for n in "abc":
        (root / "data" / n).write_text(n)
    (root / "link").symlink_to("etc/passwd")
    old = 1_600_000_000_000_000_000
    for p in [root, *root.rglob("*")]:
        os.utime(p, ns=(old, old), follow_symlinks=False)


def test_no_change_is_empty(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    assert snap.diff().empty


def test_added_modified_deleted_and_parents(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    with open(tmp_path / "etc/passwd", "a") as f:
        f.write("app:x:1000:1000::/home/app:/bin/sh\n")
    (tmp_path / "new").mkdir()
    (tmp_path / "new/file").write_text("x")
    os.unlink(tmp_path / "data/a")
    cs = snap.diff()
    # /etc did not change itself (a child was modified in place) but is listed as a parent.
    assert cs.paths == ("data", "etc", "etc/passwd", "new", "new/file")
    assert cs.whiteouts == ("data/a",)
    assert cs.opaque_dirs == ()
    assert cs.source_root == tmp_path


def test_directory_metadata_noop_is_dropped(tmp_path):
    """A directory's content is its entries (compared one by one): an attribute no-op on it
    moves its ctime, and is no change."""
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    st = os.stat(tmp_path / "etc")
    os.chmod(tmp_path / "etc", st.st_mode)
    os.chown(tmp_path / "etc", st.st_uid, st.st_gid)
    os.utime(tmp_path / "etc", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert snap.diff().empty


def test_file_metadata_noop_is_reported(tmp_path):
    """For a file, "chmod to the same mode + mtime put back" is indistinguishable by stat from
    "content rewritten + mtime put back" (the next test): the walker reports it."""
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    st = os.stat(tmp_path / "etc/keep")
    os.chmod(tmp_path / "etc/keep", st.st_mode)
    os.utime(tmp_path / "etc/keep", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert snap.diff().paths == ("etc", "etc/keep")


def test_mode_and_mtime_changes_are_changes(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    os.chmod(tmp_path / "etc/keep", 0o600)
    os.utime(tmp_path / "data/b", ns=(1, 1))
    assert snap.diff().paths == ("data", "data/b", "etc", "etc/keep")


def test_all_children_deleted_gives_opaque_dir(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    for n in "abc":
        os.unlink(tmp_path / "data" / n)
    (tmp_path / "data/z").write_text("z")
    cs = snap.diff()
    assert cs.opaque_dirs == ("data",)
    assert cs.whiteouts == ()
    assert cs.paths == ("data", "data/z")


def test_deleted_directory_is_one_whiteout(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    for n in "abc":
        os.unlink(tmp_path / "data" / n)
    os.rmdir(tmp_path / "data")
    cs = snap.diff()
    assert cs.whiteouts == ("data",)
    assert cs.paths == ()


def test_symlink_retarget_and_type_change(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    os.unlink(tmp_path / "link")
    os.symlink("etc/keep", tmp_path / "link")
    os.unlink(tmp_path / "etc/keep")
    (tmp_path / "etc/keep").mkdir()
    cs = snap.diff()
    assert cs.paths == ("etc", "etc/keep", "link")
    assert cs.whiteouts == ()


def test_ignore_excludes_subtrees(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path, ignore=frozenset({"proc"}))
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/1").write_text("x")
    assert snap.diff(ignore=frozenset({"proc"})).paths == ()


def test_unchanged_files_are_never_opened(tmp_path, monkeypatch):
    """O(files), never O(bytes): the walker must not read file contents."""
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    (tmp_path / "data/new").write_text("n")
    import builtins
    real_open = builtins.open

    def guarded(path, *a, **kw):
        assert not str(path).startswith(str(tmp_path)), f"walker opened {path}"
        return real_open(path, *a, **kw)

    monkeypatch.setattr(builtins, "open", guarded)
    assert snap.diff().paths == ("data", "data/new")
