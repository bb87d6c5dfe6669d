"""Writing single entries into a root: files, symlinks, directories, special files.

Every function takes a host path whose parent directory has already been resolved
inside the root (see rootpath), and never follows a symlink at the final component:
an existing entry there is replaced (or, for directories, merged into) instead.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from mason.errors import BuildError


@dataclass(frozen=True)
class Meta:
    """The metadata an entry gets in the root (after --chown/--chmod)."""

    uid: int
    gid: int
    mode: int  # permission + special bits only
    mtime_ns: int | None  # None: leave "now"


def apply_meta(host: str, meta: Meta, *, is_link: bool = False) -> None:
    """Set owner, mode (not on symlinks) and mtime; chown first, as it clears setuid bits."""
    os.lchown(host, meta.uid, meta.gid)
    if not is_link:
        os.chmod(host, meta.mode)
    if meta.mtime_ns is not None:
        os.utime(host, ns=(meta.mtime_ns, meta.mtime_ns), follow_symlinks=False)


def clear_for_nondir(host: str, shown: str) -> None:
    """Remove whatever non-directory is at ``host`` so a new entry can take its place."""
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise BuildError(f"cannot overwrite directory {shown!r} with a non-directory")
    os.unlink(host)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _finish(fd: int, meta: Meta) -> None:
    """``apply_meta`` on the open descriptor: no path lookups (same order: chown first)."""
    os.fchown(fd, meta.uid, meta.gid)
    os.fchmod(fd, meta.mode)
    if meta.mtime_ns is not None:
        os.utime(fd, ns=(meta.mtime_ns, meta.mtime_ns))


def write_stream(host: str, shown: str, src_fd: int, meta: Meta, size: int | None = None) -> None:
    """Create a regular file at ``host`` from an open descriptor (copied with sendfile).

    ``size`` (the source's size, when the caller has it from its ``stat``) lets the copy
    stop without the extra ``sendfile`` call that would return 0.
    """
    # Created first and cleared only on EEXIST: saves an ``lstat`` per file in the common case
    # (nothing there), since every path lookup in an overlay root searches all its layers.
    try:
        fd = os.open(host, _CREATE, 0o600)
    except FileExistsError:
        if _already_there(host, src_fd, meta, size):
            return
        clear_for_nondir(host, shown)
        fd = os.open(host, _CREATE, 0o600)
    try:
        offset = 0
        while size is None or offset < size:
            try:
                sent = os.sendfile(fd, src_fd, offset, 1 << 30)
            except OSError as exc:  # sendfile unsupported for this pair: plain copy
                if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                    raise
                _copy_plain(src_fd, fd, offset)
                break
            if sent == 0:
                break
            offset += sent
        _finish(fd, meta)
    finally:
        os.close(fd)


def _already_there(host: str, src_fd: int, meta: Meta, size: int | None) -> bool:
    """The file at ``host`` is already what writing would make (bytes, owner, mode, mtime, no
    xattrs): leave it alone.  Replacing it would give a new inode and ctime with nothing
    visible changed, which the stat walker cannot tell from a real change; the overlay method
    drops such a file after comparing bytes, so both give the same layer either way."""
    if meta.mtime_ns is None:
        return False
    try:
        st = os.lstat(host)
    except OSError:
        return False
    if not (stat.S_ISREG(st.st_mode) and st.st_uid == meta.uid and st.st_gid == meta.gid
            and stat.S_IMODE(st.st_mode) == meta.mode and st.st_mtime_ns == meta.mtime_ns
            and st.st_size == (os.fstat(src_fd).st_size if size is None else size)):
        return False
    try:
        if any(not n.startswith(("trusted.overlay.", "user.overlay.")) for n in os.listxattr(host, follow_symlinks=False)):
            return False
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        offset = 0
        while True:
            want, have = os.pread(src_fd, 1 << 20, offset), os.read(fd, 1 << 20)
            if want != have:
                return False
            if not want:
                return True
            offset += len(want)
    finally:
        os.close(fd)


def _copy_plain(src_fd: int, dst_fd: int, offset: int) -> None:
    os.lseek(src_fd, offset, os.SEEK_SET)
    while chunk := os.read(src_fd, 1 << 20):
        os.write(dst_fd, chunk)


def write_file(host: str, shown: str, src_host: str, meta: Meta, size: int | None = None) -> None:
    """Copy the regular file ``src_host`` (of ``size`` bytes, when known) to ``host``."""
    src_fd = os.open(src_host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        write_stream(host, shown, src_fd, meta, size)
    finally:
        os.close(src_fd)


def write_bytes(host: str, shown: str, data: bytes, meta: Meta) -> None:
    """Create a regular file holding ``data``."""
    clear_for_nondir(host, shown)
    fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    apply_meta(host, meta)


def write_fileobj(host: str, shown: str, src, meta: Meta) -> None:
    """Create a regular file from a readable binary file object (1 MiB chunks)."""
    clear_for_nondir(host, shown)
    fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        while chunk := src.read(1 << 20):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    apply_meta(host, meta)


def write_symlink(host: str, shown: str, target: str, meta: Meta) -> None:
    clear_for_nondir(host, shown)
    os.symlink(target, host)
    apply_meta(host, meta, is_link=True)


def write_hardlink(host: str, shown: str, existing_host: str) -> None:
    clear_for_nondir(host, shown)
    os.link(existing_host, host, follow_symlinks=False)


def write_special(host: str, shown: str, st: os.stat_result, meta: Meta) -> None:
    """Recreate a fifo or device node. A socket becomes an empty regular file with its
    permissions, as BuildKit stores one found in the context (a tar layer cannot hold one)."""
    if stat.S_ISSOCK(st.st_mode):
        import io

        write_fileobj(host, shown, io.BytesIO(b""), meta)
        return
    clear_for_nondir(host, shown)
    os.mknod(host, stat.S_IFMT(st.st_mode) | 0o600, st.st_rdev)
    apply_meta(host, meta)


def ensure_dir(host: str, shown: str, meta: Meta, *, overwrite_meta: bool) -> bool:
    """Create a directory (True) or reuse an existing one (False; metadata replaced if asked).

    The caller sets the directory's mtime after writing its children, since each
    child written into it bumps it.
    """
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        os.mkdir(host, 0o700)
        apply_meta(host, Meta(meta.uid, meta.gid, meta.mode, None))
        return True
    if not stat.S_ISDIR(st.st_mode):
        raise BuildError(f"cannot copy a directory to {shown!r}: it exists and is not a directory")
    if overwrite_meta:
        apply_meta(host, Meta(meta.uid, meta.gid, meta.mode, None))
    return False


def copy_xattrs(src_host: str, host: str) -> None:
    """Copy extended attributes (for stage-to-stage copies, never from the context)."""
    try:
        names = os.listxattr(src_host, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for name in names:
        value = os.getxattr(src_host, name, follow_symlinks=False)
        try:
            os.setxattr(host, name, value, follow_symlinks=False)
        except OSError as exc:
            raise BuildError(f"cannot set extended attribute {name!r} on {host!r}: {exc}") from None
