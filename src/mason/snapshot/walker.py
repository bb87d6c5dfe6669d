"""The no-mount snapshot: compare two stat walks of one root.

Used where overlayfs cannot be mounted (unprivileged CI containers).  Cost is one
``lstat`` + ``listxattr`` per entry per walk, i.e. O(files), never O(bytes):

* an entry whose recorded stat (type, mode, uid, gid, size, mtime_ns, ctime_ns, inode, link
  target) is identical is unchanged and never opened;
* an entry whose layer-visible attributes (:class:`~mason.snapshot.changeset.Attrs`) differ is
  changed, again without reading it;
* only when the layer-visible attributes are equal but ctime or inode moved (``chown`` to the same
  owner, ``touch -r``, ``cp -p`` over itself) does the content question arise.  The before-content
  is gone by then, so the rule is: same inode -> content unchanged (writing data without changing
  mtime needs an explicit mtime restore, which is what a metadata no-op is); a new inode -> changed.
  This matches the overlay method in every case except "replaced by an identical file with an
  identical mtime via a new inode" (e.g. ``mv``), which the walker reports as changed.

Mount points inside the root (another filesystem) are not descended into: they are not part of
the root's content.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mason.snapshot.changeset import Attrs, ChangeSet, canonical, read_attrs


@dataclass(frozen=True)
class _Entry:
    ino: int
    ctime_ns: int
    attrs: Attrs


@dataclass(frozen=True)
class Snapshot:
    """A recorded stat walk of ``root`` (relative path -> entry), taken before a step."""

    root: Path
    entries: dict[str, _Entry]

    def diff(self, ignore: frozenset[str] = frozenset()) -> ChangeSet:
        """Walk ``root`` again and return what changed since this snapshot.

        ``ignore`` holds relative paths (and their subtrees) excluded from both walks, e.g. the
        sandbox's own mount-point stubs when they could not be removed.
        """
        after = _walk(self.root, ignore)
        before = {p: e for p, e in self.entries.items() if not _ignored(p, ignore)}
        changed = []
        for path, now in after.items():
            was = before.get(path)
            if was is None or _changed(was, now):
                changed.append(path)
        deleted = [p for p in before if p not in after]

        def is_dir_after(p: str) -> bool:
            e = after.get(p)
            return e is not None and e.attrs.fmt == stat.S_IFDIR

        index: dict[str, set[str]] = {}
        if deleted:  # built only when needed: opaque detection asks for B's children
            for q in before:
                if q:
                    parent, _, name = q.rpartition("/")
                    index.setdefault(parent, set()).add(name)

        def children_before(p: str) -> set[str]:
            return index.get(p, set())

        return canonical(self.root, changed, deleted, is_dir_after, children_before)


def take(root: str | os.PathLike, ignore: frozenset[str] = frozenset()) -> Snapshot:
    """Record the stat snapshot of ``root`` (O(files))."""
    root = Path(root)
    return Snapshot(root=root, entries=_walk(root, ignore))


def _changed(was: _Entry, now: _Entry) -> bool:
    if was.ino == now.ino and was.ctime_ns == now.ctime_ns and was.attrs == now.attrs:
        return False
    if was.attrs != now.attrs:
        return True
    return was.ino != now.ino


def _ignored(rel: str, ignore: frozenset[str]) -> bool:
    while rel:
        if rel in ignore:
            return True
        rel = rel.rpartition("/")[0]
    return False


def _walk(root: Path, ignore: frozenset[str]) -> dict[str, _Entry]:
    top = os.lstat(root)
    out = {"": _Entry(top.st_ino, top.st_ctime_ns, read_attrs(root, top))}
    stack = [("", str(root))]
    while stack:
        rel, full = stack.pop()
        with os.scandir(full) as it:
            for de in it:
                child_rel = f"{rel}/{de.name}" if rel else de.name
                if child_rel in ignore:
                    continue
                st = de.stat(follow_symlinks=False)
                out[child_rel] = _Entry(st.st_ino, st.st_ctime_ns, read_attrs(de.path, st))
                if stat.S_ISDIR(st.st_mode) and st.st_dev == top.st_dev:
                    stack.append((child_rel, de.path))
    return out
