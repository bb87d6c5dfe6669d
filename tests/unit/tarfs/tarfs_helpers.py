"""Shared helpers for the tarfs tests: crafting tars (including hostile ones) by hand
with the stdlib, and comparing directory trees."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path


def member(name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"", mode: int = 0o644,
           linkname: str = "", uid: int = 0, gid: int = 0, mtime: int = 1_600_000_000,
           size: int | None = None, pax: dict | None = None, devmajor: int = 0,
           devminor: int = 0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.uid, info.gid, info.mtime = uid, gid, mtime
    info.devmajor, info.devminor = devmajor, devminor
    if pax:
        info.pax_headers = pax
    info.size = len(data) if size is None else size
    return info, data


def make_tar(members, *, fmt=tarfile.PAX_FORMAT) -> bytes:
    """A tar with exactly ``members`` (no normalisation, so hostile names survive)."""
    buf = io.BytesIO()
    with tarfile.TarFile(fileobj=buf, mode="w", format=fmt) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def tree(root: Path, *, owners: bool = True, mtimes: bool = True) -> dict:
    """Everything comparable about a tree: type, mode, owner, mtime, content/target,
    xattrs, and hardlink groups (by first path sharing an inode)."""
    out = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            rec = {"mode": oct(st.st_mode)}
            if owners:
                rec["owner"] = (st.st_uid, st.st_gid)
            if mtimes and not stat.S_ISLNK(st.st_mode):
                rec["mtime"] = int(st.st_mtime)
            if stat.S_ISREG(st.st_mode):
                rec["data"] = p.read_bytes()
                if st.st_nlink > 1:
                    rec["link"] = inodes.setdefault((st.st_dev, st.st_ino), rel)
            elif stat.S_ISLNK(st.st_mode):
                rec["target"] = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                rec["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            try:
                names = os.listxattr(p, follow_symlinks=False)
            except OSError:
                names = []
            rec["xattrs"] = {k: os.getxattr(p, k, follow_symlinks=False) for k in sorted(names)
                             if not k.startswith("security.selinux")}
            out[rel] = rec
    return out


def snapshot(path: Path) -> dict:
    """Recursive listing with content/mtime, to prove a sentinel was not touched."""
    return tree(path) if path.exists() else {}
