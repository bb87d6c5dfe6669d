"""Turn an overlayfs upper dir into a :class:`~mason.snapshot.changeset.ChangeSet`.

The upper dir *is* the diff, but raw: overlayfs copies an entry up for reasons that change
nothing in the layer (a ``chown`` to the same owner, opening a file for writing without writing,
a directory copied up only because a child changed).  For each upper entry we compare its
layer-visible attributes with the lower view and, for regular files with equal attributes, the
bytes.  Only copied-up files are ever read, so the cost is O(what the step touched).

Whiteouts (0/0 char devices or ``trusted.overlay.whiteout`` files) become deletions; an opaque
upper dir (``trusted.overlay.opaque=y``) deletes every lower child it does not re-create.  The
final normal form (opaque vs. whiteouts, parent dirs) is :func:`canonical`'s, shared with the
walker so both methods give identical layers.

``source_root`` of the result is the upper dir: read it while no other step writes to it.  Its
entries carry ``trusted.overlay.*`` xattrs that the tar writer must not copy.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Sequence

from mason.snapshot.changeset import ChangeSet, canonical, read_attrs, same_content
from mason.snapshot.lowerview import LowerView, is_opaque, is_whiteout


def diff_upper(upper: str | os.PathLike, lowers: Sequence[str | os.PathLike]) -> ChangeSet:
    """Compute the change set of ``upper`` over ``lowers`` (top-most first)."""
    upper = Path(upper)
    view = LowerView(tuple(Path(p) for p in lowers))
    changed: list[str] = []
    deleted: list[str] = []
    upper_dirs: dict[str, bool] = {"": is_opaque(str(upper))}  # rel -> effectively opaque

    stack = [""]
    while stack:
        rel = stack.pop()
        full_dir = os.path.join(upper, rel)
        hides_lower = upper_dirs[rel]
        names = set()
        with os.scandir(full_dir) as it:
            for de in it:
                child = f"{rel}/{de.name}" if rel else de.name
                st = de.stat(follow_symlinks=False)
                if is_whiteout(de.path, st):
                    if view.lookup(child) is not None:
                        deleted.append(child)
                    continue
                names.add(de.name)
                lower = view.lookup(child)
                if lower is None or _differs(de.path, st, lower):
                    changed.append(child)
                if stat.S_ISDIR(st.st_mode):
                    lower_is_dir = lower is not None and stat.S_ISDIR(os.lstat(lower).st_mode)
                    upper_dirs[child] = hides_lower or is_opaque(de.path) or not lower_is_dir
                    stack.append(child)
        if hides_lower:
            # Nothing of the lower dir shows through: whatever B had here and A lacks is deleted.
            deleted.extend(f"{rel}/{n}" if rel else n for n in view.children(rel) - names)

    def is_dir_after(p: str) -> bool:
        if p in upper_dirs:
            return True
        # Not in the upper dir: A shows the lower entry unchanged (if no upper ancestor hides it).
        lower = view.lookup(p)
        return lower is not None and stat.S_ISDIR(os.lstat(lower).st_mode) and not _hidden(p, upper_dirs)

    return canonical(upper, changed, deleted, is_dir_after, view.children)


def _hidden(rel: str, upper_dirs: dict[str, bool]) -> bool:
    parent = rel.rpartition("/")[0]
    while True:
        if parent in upper_dirs:
            return upper_dirs[parent]
        if not parent:
            return False
        parent = parent.rpartition("/")[0]


def _differs(upper_path: str, st: os.stat_result, lower_path: str) -> bool:
    lst = os.lstat(lower_path)
    if read_attrs(upper_path, st) != read_attrs(lower_path, lst):
        return True
    if stat.S_ISREG(st.st_mode):
        return not same_content(upper_path, lower_path)
    return False
