"""The change set of one step, and the one rule both snapshot methods use to compute it.

A step's layer is defined by two views of the root: *before* (B) and *after* (A).  The overlay
method sees them as "lower layers" and "upper dir"; the walker sees two stat walks of one
directory.  To guarantee both methods give the same layer for the same change, they only collect
raw facts (which paths differ, which were deleted) and hand them to :func:`canonical`, which
applies one normal form:

* ``paths``: every path of A that is new or whose layer-visible attributes (type, mode, owner,
  size, mtime, link target, device number, xattrs, content) differ from B, plus every ancestor
  directory of a change (as Docker does: a parent appears as a dir entry even if unchanged).
  The root itself is never listed.
* ``opaque_dirs``: a directory present in both views whose B children are *all* gone in A
  (``rm -rf d && mkdir d`` and ``rm -rf d/*`` give the same layer).
* ``whiteouts``: a path of B missing from A whose parent is a directory in A and not opaque.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

# Overlayfs bookkeeping xattrs on upper entries: never part of a layer.
_PRIVATE_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")


@dataclass(frozen=True)
class ChangeSet:
    """What a step changed, ready for ``mason.tarfs.write_layer``.

    ``paths`` are relative (no leading ``/``), sorted, and are read from ``source_root``;
    ``whiteouts`` are relative paths deleted by the step (to become ``.wh.`` entries);
    ``opaque_dirs`` are relative directories whose earlier content is hidden entirely
    (they are also in ``paths``).
    """

    source_root: Path
    paths: tuple[str, ...]
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.paths or self.whiteouts or self.opaque_dirs)


@dataclass(frozen=True)
class Attrs:
    """The attributes of an entry that end up in a layer tar (nothing else is compared)."""

    fmt: int            # S_IFMT bits
    mode: int           # full st_mode
    uid: int
    gid: int
    size: int           # 0 for directories: their st_size is filesystem-specific
    mtime_ns: int
    rdev: int
    link: str | None
    xattrs: tuple[tuple[str, bytes], ...]


def read_attrs(path: str | os.PathLike, st: os.stat_result | None = None) -> Attrs:
    st = st or os.lstat(path)
    fmt = stat.S_IFMT(st.st_mode)
    return Attrs(
        fmt=fmt, mode=st.st_mode, uid=st.st_uid, gid=st.st_gid,
        size=0 if fmt == stat.S_IFDIR else st.st_size, mtime_ns=st.st_mtime_ns,
        rdev=st.st_rdev if fmt in (stat.S_IFCHR, stat.S_IFBLK) else 0,
        link=os.readlink(path) if fmt == stat.S_IFLNK else None,
        xattrs=read_xattrs(path),
    )


def read_xattrs(path: str | bytes | os.PathLike) -> tuple[tuple[str, bytes], ...]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()  # filesystems without xattr support: nothing to carry
    out = []
    for name in sorted(names):
        if name.startswith(_PRIVATE_XATTR_PREFIXES):
            continue
        try:
            out.append((name, os.getxattr(path, name, follow_symlinks=False)))
        except OSError:
            continue
    return tuple(out)


def same_content(a: str | os.PathLike, b: str | os.PathLike, chunk: int = 1 << 20) -> bool:
    """Byte comparison that stops at the first difference (callers checked sizes already)."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            da, db = fa.read(chunk), fb.read(chunk)
            if da != db:
                return False
            if not da:
                return True


def parent_of(rel: str) -> str:
    return rel.rpartition("/")[0]


def canonical(source_root: Path, changed: Iterable[str], deleted: Iterable[str],
              is_dir_after: Callable[[str], bool], children_before: Callable[[str], set[str]]) -> ChangeSet:
    """Apply the normal form described in the module docstring.

    ``changed``: paths of A differing from B (new or modified).  ``deleted``: paths of B absent
    from A (callers may include descendants of deleted dirs; they are filtered here).
    ``is_dir_after(p)``: p is a directory in A ("" is the root).  ``children_before(p)``: names of
    p's children in B.
    """
    changed = set(changed)
    by_parent: dict[str, set[str]] = {}
    for p in deleted:
        parent = parent_of(p)
        if is_dir_after(parent):
            by_parent.setdefault(parent, set()).add(p.rpartition("/")[2])
    opaque, whiteouts = set(), set()
    for parent, names in by_parent.items():
        before = children_before(parent)
        if parent and before and before <= names:
            opaque.add(parent)
        else:
            whiteouts.update(f"{parent}/{n}" if parent else n for n in names)
    paths = set(changed) | opaque
    for p in list(paths) + list(whiteouts):
        parent = parent_of(p)
        while parent and parent not in paths:
            paths.add(parent)
            parent = parent_of(parent)
    paths.discard("")
    return ChangeSet(source_root=Path(source_root), paths=tuple(sorted(paths)),
                     whiteouts=tuple(sorted(whiteouts)), opaque_dirs=tuple(sorted(opaque)))
