"""Which of a stage's layers can change what ``COPY --from=<stage> <sources>`` copies.

The merged filesystem at a path is decided by the layers that have an entry at that path,
below it, or at one of its ancestors that is not a plain directory (a file, a whiteout, or
a directory marked opaque hides everything below it in lower layers). A layer with none
of those contributes nothing to the copied tree. So the content the copy sees is a
function of the ordered diff_ids of the layers that do: mason's cache uses that list to
name a memo of the content digest, and a rebuild in which only other layers changed (one-file
change: the context COPY and what follows it) finds the digest without reading a file.

Answers None (no memo: the caller hashes the files) where that reasoning does not hold:
a symlink on the way to a source in any layer (the copy follows it to a place this check
does not look at), or a layer not on disk as an overlay lower dir.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path


_GLOB = set("*?[\\")


def source_prefix(source: str) -> list[str]:
    """The components of ``source`` (relative to the stage's root) up to its first pattern."""
    parts = [c for c in posixpath.normpath("/" + source).split("/") if c]
    for i, part in enumerate(parts):
        if _GLOB & set(part):
            return parts[:i]
    return parts


def touches(layer: Path, parts: list[str]) -> bool | None:
    """Whether the layer dir ``layer`` (overlay lower-dir format) has anything that shows at,
    below or instead of the path ``parts``; None if a symlink is on the way."""
    from mason.snapshot.lowerview import is_opaque   # at first use: a cached COPY looks at no layer

    current = layer
    for i, name in enumerate(parts):
        current = current / name
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if stat.S_ISLNK(st.st_mode):
            return None
        if not stat.S_ISDIR(st.st_mode) or i == len(parts) - 1:
            return True        # replaced or deleted here (whiteout device), or the source itself
        if is_opaque(str(current)):
            return True
    return True                # the root itself: every layer counts


def layers_touching(layers, sources: list[str]) -> list[str] | None:
    """diff_ids (in order) of the ``layers`` (LayerRefs) that can change what ``sources`` copy."""
    prefixes = [source_prefix(s) for s in sources]
    found = []
    for ref in layers:
        if ref.directory is None:
            return None
        hit = False
        for parts in prefixes:
            answer = touches(Path(ref.directory), parts)
            if answer is None:
                return None
            hit = hit or answer
        if hit:
            found.append(ref.diff_id)
    return found
