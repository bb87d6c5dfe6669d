"""remove_tree: the work dir's parallel remover removes everything, follows nothing."""

import os
import subprocess

import pytest

from mason.executor.treeremoval import remove_tree


def _tree(root):
    os.makedirs(root / "a" / "b" / "c")
    for i in range(700):                      # several batches in one directory
        (root / "a" / f"f{i}").write_bytes(b"x" * (i % 7))
    (root / "a" / "b" / "c" / "deep").write_text("deep")
    os.mkfifo(root / "a" / "fifo")
    (root / "empty").mkdir()
    os.link(root / "a" / "f1", root / "a" / "b" / "hard")
    return root


def test_removes_a_whole_tree(tmp_path):
    top = _tree(tmp_path / "top")
    remove_tree(top, jobs=4)
    assert not top.exists()
    assert list(tmp_path.iterdir()) == []


def test_symlinks_are_unlinked_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    top = _tree(tmp_path / "top")
    (top / "a" / "to-dir").symlink_to(outside)
    (top / "to-file").symlink_to(outside / "keep")
    remove_tree(top)
    assert not top.exists()
    assert (outside / "keep").read_text() == "keep"


def test_sequential_and_parallel_agree(tmp_path):
    for jobs in (1, 8):
        top = _tree(tmp_path / f"top{jobs}")
        remove_tree(top, jobs=jobs)
        assert not top.exists()


def test_missing_tree_is_an_error_without_fallback(tmp_path):
    with pytest.raises(FileNotFoundError):
        remove_tree(tmp_path / "absent")


def test_fallback_gets_what_the_fast_pass_left(tmp_path, monkeypatch):
    top = _tree(tmp_path / "top")
    calls = []
    real_rmdir = os.rmdir

    def failing_rmdir(path, *a, **k):
        if str(path) == str(top):
            raise PermissionError(13, "denied", str(path))
        return real_rmdir(path, *a, **k)

    monkeypatch.setattr(os, "rmdir", failing_rmdir)

    def fallback(path):
        calls.append(path)
        monkeypatch.setattr(os, "rmdir", real_rmdir)
        real_rmdir(path)

    remove_tree(top, fallback=fallback)
    assert calls == [str(top)]
    assert not top.exists()


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_mount_below_is_refused_not_emptied(tmp_path):
    top = _tree(tmp_path / "top")
    mnt = top / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "precious").write_text("p")
        with pytest.raises(OSError, match="mount point"):
            remove_tree(top)
        assert (mnt / "precious").read_text() == "p"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    remove_tree(top)
    assert not top.exists()


def test_many_directories_at_many_depths_go_level_by_level(tmp_path):
    # more directories per level than one rmdir batch, nested, some holding files: a level
    # removed before the one below it would fail with ENOTEMPTY
    top = tmp_path / "top"
    for i in range(40):
        for j in range(5):
            leaf = top / f"d{i}" / f"e{j}" / "f"
            leaf.mkdir(parents=True)
            (leaf / "x").write_text("x")
    (top / "d0" / "e0" / "f" / "g" / "h").mkdir(parents=True)
    remove_tree(top, jobs=8)
    assert not top.exists()
