"""COPY with deferred files: regular files recorded instead of created, every other rule of
the copier still acting on the real root (needs root for chown, as the build does)."""

import os

import pytest

from mason.errors import BuildError
from mason.fsops import SourceTree, copy
from mason.fsops.deferred import DeferredFiles


@pytest.fixture
def ctx(tmp_path):
    c = tmp_path / "ctx"
    (c / "dir/sub").mkdir(parents=True)
    (c / "dir/one").write_text("1")
    (c / "dir/sub/two").write_text("2")
    os.link(c / "dir/one", c / "dir/sub/one-again")
    os.symlink("one", c / "dir/link")
    (c / "other").mkdir()
    (c / "other/one").write_text("other 1")
    (c / "clash/one").mkdir(parents=True)
    (c / "clash/one/inner").write_text("x")
    os.utime(c / "dir/sub", ns=(1_000_000_000, 1_000_000_000))
    return c


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


@pytest.mark.root
def test_regular_files_are_recorded_not_written(ctx, root):
    deferred = DeferredFiles()
    copy(SourceTree(str(ctx)), ["dir"], str(root), "/app/", chown=(5, 6), chmod="600", deferred=deferred)
    assert sorted(deferred.files) == ["/app/one", "/app/sub/one-again", "/app/sub/two"]
    assert not (root / "app/one").exists() and not (root / "app/sub/two").exists()
    assert os.readlink(root / "app/link") == "one"                  # symlinks are real
    assert os.stat(root / "app/sub").st_mtime_ns == 1_000_000_000   # dir times restored after the touch
    rec = deferred.files["/app/one"]
    assert (rec.source, rec.size) == (str(ctx / "dir/one"), 1)
    assert (rec.meta.uid, rec.meta.gid, rec.meta.mode) == (5, 6, 0o600)
    again = deferred.files["/app/sub/one-again"]
    assert rec.group is not None and again.group == rec.group      # one source inode: one group


def test_occupied_path_is_written_and_a_later_clash_flushes(ctx, root):
    (root / "app").mkdir()
    (root / "app/one").write_text("lower")
    deferred = DeferredFiles()
    copy(SourceTree(str(ctx)), ["dir"], str(root), "/app/", deferred=deferred)
    # /app/one was occupied: written for real, and its hardlink group with it
    assert (root / "app/one").read_text() == "1"
    assert os.stat(root / "app/sub/one-again").st_ino == os.stat(root / "app/one").st_ino
    assert sorted(deferred.files) == ["/app/sub/two"]
    # a second COPY over the recorded /app/sub/two: made real first, then replaced as before
    (ctx / "dir/sub/two").write_text("22")
    copy(SourceTree(str(ctx)), ["dir/sub/two"], str(root), "/app/sub/two", deferred=deferred)
    assert (root / "app/sub/two").read_text() == "22" and "/app/sub/two" not in deferred


def test_directory_over_a_recorded_file_is_refused_as_without_records(ctx, root):
    for deferred in (None, DeferredFiles()):
        target = root / ("with" if deferred is not None else "without")
        with pytest.raises(BuildError) as err:
            copy(SourceTree(str(ctx)), ["other", "clash"], str(root), f"/{target.name}/", deferred=deferred)
        assert "it exists and is not a directory" in str(err.value)
        assert (target / "one").read_text() == "other 1"


def test_without_a_recorder_nothing_changes(ctx, root):
    copy(SourceTree(str(ctx)), ["dir"], str(root), "/app/")
    assert (root / "app/one").read_text() == "1"
