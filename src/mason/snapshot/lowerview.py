"""The merged, read-only view of a stack of overlay-format layer directories.

Lower dirs are extracted layers in overlayfs format (whiteouts are 0/0 character devices or
files carrying ``trusted.overlay.whiteout``; opaque dirs carry ``trusted.overlay.opaque=y``), or
earlier steps' upper dirs.  :class:`LowerView` answers "what did the root look like before the
step" for single paths without merging the whole stack: lookups cost O(depth x layers) stats.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


def is_whiteout(path: str, st: os.stat_result) -> bool:
    if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        return True
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        return _has_xattr(path, "trusted.overlay.whiteout")
    return False


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) in (b"y", b"x")
    except OSError:
        return False


def _has_xattr(path: str, name: str) -> bool:
    try:
        os.getxattr(path, name, follow_symlinks=False)
        return True
    except OSError:
        return False


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


@dataclass(frozen=True)
class LowerView:
    """Lower layer directories, top-most first."""

    layers: tuple[Path, ...]

    def _dir_layers(self, rel: str) -> list[Path]:
        """The layers that contribute children to directory ``rel`` (top-most first);
        empty when ``rel`` is not a directory in the merged view."""
        candidates = list(self.layers)
        prefix = ""
        for name in rel.split("/") if rel else []:
            prefix = f"{prefix}/{name}" if prefix else name
            kept = []
            for layer in candidates:
                full = os.path.join(layer, prefix)
                st = _lstat(full)
                if st is None:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    break  # a whiteout or non-dir hides this path in every lower layer
                kept.append(layer)
                if is_opaque(full):
                    break
            candidates = kept
            if not candidates:
                return []
        return candidates

    def lookup(self, rel: str) -> str | None:
        """The host path holding ``rel`` in the merged view, or None if absent."""
        if not rel:
            return str(self.layers[0]) if self.layers else None
        parent, _, name = rel.rpartition("/")
        for layer in self._dir_layers(parent):
            full = os.path.join(layer, rel)
            st = _lstat(full)
            if st is None:
                continue
            return None if is_whiteout(full, st) else full
        return None

    def children(self, rel: str) -> set[str]:
        """Names in directory ``rel`` of the merged view."""
        seen: dict[str, bool] = {}
        for layer in self._dir_layers(rel):
            full = os.path.join(layer, rel)
            with os.scandir(full) as it:
                for de in it:
                    if de.name not in seen:
                        seen[de.name] = not is_whiteout(de.path, de.stat(follow_symlinks=False))
        return {n for n, present in seen.items() if present}
