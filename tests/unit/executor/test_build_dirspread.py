"""dirspread: the Orlov "top directory" hint on the build's scratch trees."""

import os
from pathlib import Path

from mason.executor.dirspread import FS_TOPDIR_FL, get_flags, spread_subdirs
from mason.executor.layerstore import LayerStore
from mason.executor.workdir import WorkDir


def test_spread_sets_the_flag_where_the_filesystem_has_inode_flags(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    before = get_flags(d)
    took = spread_subdirs(d)
    after = get_flags(d)
    if before is None:             # e.g. tmpfs: no inode flags at all; a hint, not an error
        assert took is False and after is None
    else:
        assert took is True and after & FS_TOPDIR_FL
        assert after & ~FS_TOPDIR_FL == before & ~FS_TOPDIR_FL  # no other flag touched
        assert spread_subdirs(d) is True                         # idempotent


def test_flag_is_not_inherited_and_content_is_untouched(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    spread_subdirs(d)
    (d / "child").mkdir()
    (d / "child" / "f").write_bytes(b"x")
    flags = get_flags(d / "child")
    assert flags is None or not flags & FS_TOPDIR_FL
    assert (d / "child" / "f").read_bytes() == b"x"


def test_unsupported_places_answer_without_raising():
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        return
    d = shm / f"mason-dirspread-{os.getpid()}"
    d.mkdir()
    try:
        took = spread_subdirs(d)
        assert took is (get_flags(d) is not None and bool(get_flags(d) & FS_TOPDIR_FL))
    finally:
        d.rmdir()


def test_workdir_and_layer_store_mark_their_scratch_parents(tmp_path):
    with WorkDir(tmp_path / "w") as work:
        steps = work.sub("steps")
        if get_flags(steps) is not None:
            assert get_flags(work.path) & FS_TOPDIR_FL
            assert get_flags(steps) & FS_TOPDIR_FL
    store = LayerStore(tmp_path / "store")
    digest = "sha256:" + "ab" * 32
    path, made = store.ensure(digest, lambda dest: (dest / "f").write_text("x"))
    assert made and (path / "f").read_text() == "x"
    if get_flags(path.parent) is not None:
        assert get_flags(path.parent) & FS_TOPDIR_FL
