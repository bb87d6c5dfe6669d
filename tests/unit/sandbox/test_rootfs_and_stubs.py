"""Paths resolved inside a root, and mount-point stubs that leave no trace."""

import os

import pytest

from mason.errors import BuildError
from mason.sandbox.rootfs import relative, resolve
from mason.sandbox.stubs import Stubs
from mason.snapshot import walker


def test_resolve_keeps_symlinks_inside_root(tmp_path):
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("/usr/lib")
    (tmp_path / "up").symlink_to("../../../../..")
    assert resolve(tmp_path, "/lib/x") == str(tmp_path / "usr/lib/x")
    assert resolve(tmp_path, "/up/etc/passwd") == str(tmp_path / "etc/passwd")
    assert resolve(tmp_path, "../../etc") == str(tmp_path / "etc")
    assert resolve(tmp_path, "/lib", follow_last=False) == str(tmp_path / "lib")
    assert relative(tmp_path, resolve(tmp_path, "/lib/x")) == "usr/lib/x"


def test_symlink_loop_is_an_error(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(BuildError, match="too many levels"):
        resolve(tmp_path, "/a/x")


def test_stubs_are_removed_and_parent_mtime_restored(tmp_path):
    (tmp_path / "etc").mkdir()
    old = 1_500_000_000_000_000_000
    for p in (tmp_path, tmp_path / "etc"):
        os.utime(p, ns=(old, old))
    snap = walker.take(tmp_path)
    with Stubs(tmp_path) as stubs:
        assert stubs.ensure("/proc", is_dir=True) == str(tmp_path / "proc")
        stubs.ensure("/etc/resolv.conf", is_dir=False)
        stubs.ensure("/run/secrets/token", is_dir=False)
        assert (tmp_path / "run/secrets/token").is_file()
    assert sorted(os.listdir(tmp_path)) == ["etc"]
    assert os.listdir(tmp_path / "etc") == []
    assert os.stat(tmp_path).st_mtime_ns == old
    assert snap.diff().empty


def test_stub_used_by_the_step_is_kept(tmp_path):
    with Stubs(tmp_path) as stubs:
        stubs.ensure("/run/secrets/x", is_dir=False)
        (tmp_path / "run/made-by-step").write_text("x")
    assert sorted(os.listdir(tmp_path / "run")) == ["made-by-step"]


def test_existing_targets_are_untouched_and_type_checked(tmp_path):
    (tmp_path / "etc/hosts").mkdir(parents=True)
    with Stubs(tmp_path) as stubs:
        assert stubs.ensure("/etc", is_dir=True) == str(tmp_path / "etc")
        with pytest.raises(BuildError, match="/etc/hosts"):
            stubs.ensure("/etc/hosts", is_dir=False)
    assert (tmp_path / "etc/hosts").is_dir()
