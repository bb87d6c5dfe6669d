"""A COPY over a file that is already exactly what it would write leaves it alone (same inode,
same ctime), so the stat walker, like the overlay method, sees no change."""

import os

from mason.fsops.writer import Meta, write_file


def test_identical_file_is_left_alone_and_a_different_one_replaced(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"same bytes\n")
    dst = tmp_path / "dst"
    meta = Meta(uid=0, gid=0, mode=0o644, mtime_ns=1_600_000_000_000_000_000)
    write_file(str(dst), "/dst", str(src), meta)
    before = os.lstat(dst)
    write_file(str(dst), "/dst", str(src), meta)
    after = os.lstat(dst)
    assert (after.st_ino, after.st_ctime_ns) == (before.st_ino, before.st_ctime_ns)
    for changed in (Meta(0, 0, 0o600, meta.mtime_ns), Meta(0, 0, 0o644, meta.mtime_ns + 1)):
        write_file(str(dst), "/dst", str(src), changed)
        st = os.lstat(dst)
        assert (oct(st.st_mode & 0o7777), st.st_mtime_ns) == (oct(changed.mode), changed.mtime_ns)
    src.write_bytes(b"SAME BYTES\n")                      # same size, other bytes
    write_file(str(dst), "/dst", str(src), meta)
    assert dst.read_bytes() == b"SAME BYTES\n"
    os.setxattr(dst, "user.x", b"1")                     # xattrs the write would not give
    write_file(str(dst), "/dst", str(src), meta)
    assert os.listxattr(dst) == []
