"""A mount inside another mount (a cache in a cache): its mount point is made inside the outer
mount's contents, which are the RUN's own (a cache written by earlier RUNs), so no symlink
there may decide where the inner mount goes - in the helper (namespaces) and in the emulation."""

from __future__ import annotations

import os
import stat

import pytest

from mason.errors import BuildError
from mason.sandbox import nsinit
from mason.sandbox.mountemu import _make_parents_nofollow
from mason.sandbox.namespace import mount_plan
from mason.sandbox.spec import Mount, RunSpec
from mason.sandbox.stubs import Stubs


@pytest.fixture
def outer(tmp_path):
    base = tmp_path / "cache"
    base.mkdir()
    (tmp_path / "outside").mkdir()
    os.symlink(str(tmp_path / "outside"), base / "evil")
    os.symlink("/etc/hostname", base / "file-link")
    return base


def test_the_helper_makes_missing_dirs_and_files_without_leaving_the_mount(outer, tmp_path):
    parent, fd, name = nsinit._open_under(str(outer), "a/b", True)
    try:
        assert name == "b" and stat.S_ISDIR(os.fstat(fd).st_mode)
        assert os.path.samestat(os.fstat(fd), os.stat(outer / "a/b"))
    finally:
        os.close(parent), os.close(fd)
    parent, fd, name = nsinit._open_under(str(outer), "a/tok", False)
    os.close(parent), os.close(fd)
    assert (outer / "a/tok").is_file() and (outer / "a/tok").stat().st_size == 0


@pytest.mark.parametrize("rel, is_dir", [("evil", True), ("evil/x", True), ("file-link", False),
                                         ("evil/x", False), ("a/../evil", True)])
def test_the_helper_refuses_a_symlink_below_the_outer_mount(outer, tmp_path, rel, is_dir):
    with pytest.raises(OSError):
        nsinit._open_under(str(outer), rel, is_dir)
    assert os.listdir(tmp_path / "outside") == []


def test_the_emulation_refuses_a_symlink_below_the_outer_mount(outer, tmp_path):
    assert _make_parents_nofollow(str(outer), "p/q/r", "/c/p/q/r") == str(outer / "p/q/r")
    assert (outer / "p/q").is_dir() and not (outer / "p/q/r").exists()
    for rel in ("evil/x", "evil", "file-link"):
        with pytest.raises(BuildError, match="symlink"):
            _make_parents_nofollow(str(outer), rel, "/c/" + rel)
    assert os.listdir(tmp_path / "outside") == []


def test_the_plan_mounts_outer_first_and_the_inner_one_inside_it(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    sources = {name: tmp_path / name for name in ("outer", "inner")}
    for path in sources.values():
        path.mkdir()
    spec = RunSpec(root=root, argv=("true",), network="none",
                   mounts=(Mount("/foo/bar/baz", "bind", sources["inner"], readonly=False),
                           Mount("/foo/bar", "bind", sources["outer"], readonly=False)))
    with Stubs(root) as stubs:
        ops = [op for op in mount_plan(spec, stubs, tmp_path) if op["op"] == "mount"
               and op.get("source") in {str(p) for p in sources.values()}]
        assert [op["source"] for op in ops] == [str(sources["outer"]), str(sources["inner"])]
        assert "under" not in ops[0] and ops[1]["under"] == {"base": ops[0]["target"], "rel": "baz", "dir": True}
        assert not (root / "foo/bar/baz").exists()      # no stub the outer mount would hide
