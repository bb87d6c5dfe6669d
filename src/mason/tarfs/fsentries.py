"""Turn paths under a root directory into ``LayerEntry`` values (for ``write_layer``)."""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from mason.errors import LayerError
from mason.tarfs.entries import EntryType, LayerEntry, LayerOptions
from mason.tarfs.rootdir import RootDir

_KINDS = {
    stat.S_IFREG: EntryType.FILE, stat.S_IFDIR: EntryType.DIR, stat.S_IFLNK: EntryType.SYMLINK,
    stat.S_IFCHR: EntryType.CHAR, stat.S_IFBLK: EntryType.BLOCK, stat.S_IFIFO: EntryType.FIFO,
}


class FsEntryReader:
    """Reads entries relative to ``root`` without following links; remembers inodes so
    that later paths sharing one become hardlinks to the first."""

    def __init__(self, root: RootDir, options: LayerOptions):
        self._root = root
        self._options = options
        self._inodes: dict[tuple[int, int], str] = {}

    def entry(self, parts: tuple[str, ...]) -> tuple[LayerEntry, BinaryIO | None, int] | None:
        """``(entry, open content or None, size)``; None for a socket (not representable)."""
        path = "/".join(parts)
        parent = self._root.dir_fd(parts[:-1], entry=path)
        if parent is None:
            raise LayerError(f"layer path {path!r}: its parent directory does not exist "
                             f"under {self._root.root}")
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            raise LayerError(f"layer path {path!r} does not exist under {self._root.root}") from None
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFSOCK:
            return None
        kind = _KINDS.get(fmt)
        if kind is None:
            raise LayerError(f"layer path {path!r}: unsupported file type {oct(fmt)}")
        common = dict(mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                      mtime=int(st.st_mtime))
        if kind is not EntryType.DIR and st.st_nlink > 1:
            first = self._inodes.setdefault((st.st_dev, st.st_ino), path)
            if first != path:
                return LayerEntry(path, EntryType.HARDLINK, linkname=first, **common), None, 0
        xattrs = self._xattrs(parent, name, path)
        if kind is EntryType.SYMLINK:
            target = os.readlink(name, dir_fd=parent)
            return LayerEntry(path, kind, linkname=target, xattrs=xattrs, **common), None, 0
        if kind in (EntryType.CHAR, EntryType.BLOCK):
            return LayerEntry(path, kind, devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev),
                              xattrs=xattrs, **common), None, 0
        if kind is not EntryType.FILE:
            return LayerEntry(path, kind, xattrs=xattrs, **common), None, 0
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as err:
            raise LayerError(f"layer path {path!r}: cannot open: {err.strerror}") from err
        fileobj = os.fdopen(fd, "rb", buffering=0)
        size = os.fstat(fd).st_size
        return LayerEntry(path, kind, xattrs=xattrs, **common), fileobj, size

    def _xattrs(self, parent: int, name: str, path: str) -> tuple[tuple[str, bytes], ...]:
        where = self._root.proc_path(parent, name)
        try:
            names = os.listxattr(where, follow_symlinks=False)
        except OSError as err:
            if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                return ()
            raise LayerError(f"layer path {path!r}: cannot list xattrs: {err.strerror}") from err
        out = []
        for key in sorted(names):
            if not self._options.keeps_xattr(key):
                continue
            try:
                out.append((key, os.getxattr(where, key, follow_symlinks=False)))
            except OSError as err:
                if err.errno == errno.ENODATA:
                    continue  # removed between list and get
                raise LayerError(f"layer path {path!r}: cannot read xattr {key}: "
                                 f"{err.strerror}") from err
        return tuple(out)
