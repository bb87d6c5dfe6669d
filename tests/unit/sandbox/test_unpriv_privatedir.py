"""PrivateDir: the chroot runner's /dev, /proc and /sys behave like the privileged mode's mounts
(no root needed: plain files stand in for device nodes)."""

from __future__ import annotations

import os

import pytest

from mason.errors import BuildError
from mason.sandbox.privatedir import PrivateDir
from mason.snapshot import walker

OLD = (1_500_000_000_000_000_000,) * 2


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "dev" / "shm").mkdir(parents=True)
    (r / "dev" / "console").write_text("")
    for d in ("dev/shm", "dev", ""):
        os.utime(r / d, ns=OLD)
    return r


def test_everything_new_in_dev_is_discarded_and_times_restored(root):
    snap = walker.take(root)
    with PrivateDir(root, "/dev", on_new="discard") as dev:
        (root / "dev" / "null").write_text("")        # mason's node
        (root / "dev" / "shm" / "sem.x").write_text("")   # the command's
        (root / "dev" / "pts").mkdir()
        (root / "dev" / "pts" / "0").write_text("")
        assert dev.host_path == str(root / "dev")
    assert sorted(os.listdir(root / "dev")) == ["console", "shm"] and os.listdir(root / "dev" / "shm") == []
    assert snap.diff().empty


def test_a_missing_dev_is_created_and_removed(tmp_path):
    r = tmp_path / "bare"
    r.mkdir()
    os.utime(r, ns=OLD)
    snap = walker.take(r)
    with PrivateDir(r, "/dev", on_new="discard") as dev:
        os.mkdir(os.path.join(dev.ensure(), "shm"))
    assert not (r / "dev").exists() and os.stat(r).st_mtime_ns == OLD[1]
    assert snap.diff().empty


def test_changing_an_image_entry_is_refused(root):
    with pytest.raises(BuildError, match=r"the RUN changed or removed /dev/console: in chroot isolation /dev"):
        with PrivateDir(root, "/dev", on_new="discard"):
            (root / "dev" / "console").write_text("changed")


def test_creating_in_proc_is_refused_and_removed(root):
    (root / "proc").mkdir()
    with pytest.raises(BuildError, match=r"the RUN created /proc/self/x, /proc/self: in chroot isolation /proc "
                                         "is not mounted"):
        with PrivateDir(root, "/proc", on_new="refuse"):
            (root / "proc" / "self").mkdir()
            (root / "proc" / "self" / "x").write_text("")
    assert os.listdir(root / "proc") == []


def test_a_command_error_is_not_masked(root):
    with pytest.raises(KeyError):
        with PrivateDir(root, "/dev", on_new="discard"):
            (root / "dev" / "console").unlink()
            raise KeyError("the command's own failure")


def test_a_symlinked_dev_stays_inside_the_root(tmp_path):
    r = tmp_path / "r"
    (r / "real-dev").mkdir(parents=True)
    os.symlink("/real-dev", r / "dev")
    with PrivateDir(r, "/dev", on_new="discard") as dev:
        assert dev.host_path == str(r / "real-dev")
        (r / "real-dev" / "x").write_text("")
    assert os.listdir(r / "real-dev") == []
