"""Changes a subtree-skipping or mtime/size-based shortcut would miss: the walker must see each.

Every change below leaves the parent directory's stat untouched (nothing is added, removed or
renamed in it) and, where it can, puts the file's size and mtime back too; only ctime (and the
inode's other fields) tell. Each would be a wrong layer if missed.
"""

import mmap
import os
import shutil
from pathlib import Path

from mason.snapshot import walker

OLD = 1_600_000_000_000_000_000


def _tree(root: Path) -> None:
    for d in ("a/b/c", "other", "deep/x/y/z"):
        (root / d).mkdir(parents=True)
    (root / "a/b/c/file").write_bytes(b"original")
    (root / "other/sib").write_bytes(b"sibling")
    (root / "deep/x/y/z/leaf").write_bytes(b"leaf")
    (root / "a/link").symlink_to("b/c/file")
    os.link(root / "a/b/c/file", root / "other/hard")
    for p in [root, *root.rglob("*")]:
        os.utime(p, ns=(OLD, OLD), follow_symlinks=False)


def _dir_stats(root: Path) -> dict:
    return {str(p): os.lstat(p) for p in [root, *root.rglob("*")] if p.is_dir() and not p.is_symlink()}


def _same_dirs(before: dict, root: Path) -> None:
    """The change really is invisible to every directory's mtime, size and inode."""
    after = _dir_stats(root)
    assert {p: (s.st_mtime_ns, s.st_size, s.st_ino) for p, s in before.items()} == \
           {p: (s.st_mtime_ns, s.st_size, s.st_ino) for p, s in after.items()}


def _restore(path: Path) -> None:
    os.utime(path, ns=(OLD, OLD), follow_symlinks=False)


def test_rewritten_in_place_same_size_mtime_restored(tmp_path):
    _tree(tmp_path)
    snap, dirs = walker.take(tmp_path), _dir_stats(tmp_path)
    f = tmp_path / "a/b/c/file"
    with open(f, "r+b") as out:
        out.write(b"REWRITES")                   # same size, same inode
    _restore(f)                                  # touch -d: the old mtime back
    _same_dirs(dirs, tmp_path)
    # the hard link elsewhere is the same inode: its content changed too
    assert snap.diff().paths == ("a", "a/b", "a/b/c", "a/b/c/file", "other", "other/hard")


def test_write_through_an_mmap(tmp_path):
    _tree(tmp_path)
    snap, dirs = walker.take(tmp_path), _dir_stats(tmp_path)
    f = tmp_path / "deep/x/y/z/leaf"
    with open(f, "r+b") as fh, mmap.mmap(fh.fileno(), 0) as m:
        m[0:4] = b"LEAF"
        m.flush()
    _restore(f)
    _same_dirs(dirs, tmp_path)
    assert snap.diff().paths == ("deep", "deep/x", "deep/x/y", "deep/x/y/z", "deep/x/y/z/leaf")


def test_write_through_a_hard_link_in_another_directory(tmp_path):
    _tree(tmp_path)
    snap, dirs = walker.take(tmp_path), _dir_stats(tmp_path)
    with open(tmp_path / "other/hard", "r+b") as out:
        out.write(b"via-link")
    _restore(tmp_path / "other/hard")
    _same_dirs(dirs, tmp_path)
    assert (tmp_path / "a/b/c/file").read_bytes() == b"via-link"
    assert snap.diff().paths == ("a", "a/b", "a/b/c", "a/b/c/file", "other", "other/hard")


def test_chmod_and_chown(tmp_path):
    _tree(tmp_path)
    snap, dirs = walker.take(tmp_path), _dir_stats(tmp_path)
    os.chmod(tmp_path / "other/sib", 0o4755)
    os.chown(tmp_path / "deep/x/y/z/leaf", 1234, 5678)
    os.chown(tmp_path / "deep/x", 1234, 5678)            # a directory's own owner
    _same_dirs(dirs, tmp_path)
    assert snap.diff().paths == ("deep", "deep/x", "deep/x/y", "deep/x/y/z", "deep/x/y/z/leaf",
                                 "other", "other/sib")


def test_xattr_changes_on_files_and_directories(tmp_path):
    _tree(tmp_path)
    os.setxattr(tmp_path / "deep/x/y", "user.keep", b"1")
    snap, dirs = walker.take(tmp_path), _dir_stats(tmp_path)
    os.setxattr(tmp_path / "other/sib", "user.note", b"v")
    # setcap's xattr (vfs_cap_data revision 2, cap_net_bind_service in the permitted set)
    os.setxattr(tmp_path / "deep/x/y/z/leaf", "security.capability",
                bytes.fromhex("0000000200040000000000000000000000000000"))
    os.setxattr(tmp_path / "deep/x/y", "user.keep", b"2")  # a directory's xattr value
    _same_dirs(dirs, tmp_path)
    assert snap.diff().paths == ("deep", "deep/x", "deep/x/y", "deep/x/y/z", "deep/x/y/z/leaf",
                                 "other", "other/sib")


def test_file_replaced_by_directory_and_directory_by_file(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    os.unlink(tmp_path / "other/sib")
    os.mkdir(tmp_path / "other/sib")
    for p in (tmp_path / "deep/x/y/z/leaf", tmp_path / "deep/x/y/z"):
        os.unlink(p) if p.is_file() else os.rmdir(p)
    (tmp_path / "deep/x/y/z").write_bytes(b"now a file")
    for p in ("other/sib", "other", "deep/x/y/z", "deep/x/y"):
        _restore(tmp_path / p)
    cs = snap.diff()
    assert cs.paths == ("deep", "deep/x", "deep/x/y", "deep/x/y/z", "other", "other/sib")
    assert cs.whiteouts == () and cs.opaque_dirs == ()


def test_deleted_subtree_is_one_whiteout(tmp_path):
    _tree(tmp_path)
    (tmp_path / "deep/stays").write_bytes(b"s")
    snap = walker.take(tmp_path)
    shutil.rmtree(tmp_path / "deep/x")
    cs = snap.diff()
    assert cs.whiteouts == ("deep/x",) and cs.paths == ("deep",)


def test_new_empty_directory(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    os.mkdir(tmp_path / "a/b/c/empty")
    _restore(tmp_path / "a/b/c/empty")
    _restore(tmp_path / "a/b/c")
    assert snap.diff().paths == ("a", "a/b", "a/b/c", "a/b/c/empty")


def test_symlink_retargeted_same_length_and_mtime(tmp_path):
    _tree(tmp_path)
    snap = walker.take(tmp_path)
    os.unlink(tmp_path / "a/link")
    os.symlink("b/c/FILE", tmp_path / "a/link")          # same length: same lstat size
    _restore(tmp_path / "a/link")
    _restore(tmp_path / "a")
    assert snap.diff().paths == ("a", "a/link")


def test_a_change_right_after_the_walk_is_seen(tmp_path):
    """A file written just before ``take`` and rewritten (size and mtime kept) just after: in
    the same clock tick its ctime would be unchanged, so ``take`` waits the tick out."""
    for _ in range(20):
        f = tmp_path / "fresh"
        f.write_bytes(b"one")
        st = os.lstat(f)
        snap = walker.take(tmp_path)
        f.write_bytes(b"two")
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.utime(tmp_path, ns=(OLD, OLD))
        assert snap.diff().paths == ("fresh",)
        f.unlink()


def test_a_sandbox_file_restored_byte_for_byte_is_no_change(tmp_path):
    """The chroot sandbox writes /etc/hosts for a RUN and puts bytes, mode, owner and times back
    (same inode): the bytes recorded at ``take`` say it is unchanged; other bytes say changed."""
    (tmp_path / "etc").mkdir()
    hosts = tmp_path / "etc/hosts"
    hosts.write_bytes(b"127.0.0.1 image\n")
    _restore(hosts)
    snap = walker.take(tmp_path)
    hosts.write_bytes(b"10.1.2.3 sandbox-written\n")
    hosts.write_bytes(b"127.0.0.1 image\n")
    _restore(hosts)
    assert snap.diff().empty
    hosts.write_bytes(b"127.0.0.1 IMAGE\n")             # same size, other bytes
    _restore(hosts)
    assert snap.diff().paths == ("etc", "etc/hosts")
