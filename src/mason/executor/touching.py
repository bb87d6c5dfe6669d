"""Which of a stage's layers can change what ``COPY --from=<stage> <sources>`` copies.

The merged filesystem at a path is decided by the layers that have an entry at that path,
below it, or at one of its ancestors that is not a plain directory (a file, a whiteout, or
a directory marked opaque hides everything below it in lower layers). A layer with none
of those contributes nothing to the copied tree. So the content the copy sees is a
function of the ordered diff_ids of the layers that do: mason's cache uses that list to
name a memo of the content digest, and a rebuild in which only other layers changed (one-file
change: the context COPY and what follows it) finds the digest without reading a file.

A layer is looked at as its overlay lower dir where it has one, else as its tar headers
(``HeaderIndex``: the walk strategies extract layers into stage roots, not into lower dirs,
and keep the headers of what they extracted or wrote). Answers None (no memo: the caller
hashes the files) where that reasoning does not hold: a symlink on the way to a source in
any layer (the copy follows it to a place this check does not look at), or a layer known
neither way.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from mason.tarfs.entries import EntryType
from mason.tarfs.paths import is_opaque, split_member, whiteout_target


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


class HeaderIndex:
    """A layer's tar headers as the paths it has, for the same question ``touches`` answers
    of a lower dir: a whiteout member stands where its target is, an opaque marker marks its
    directory, and a member's parents are directories even where the tar has no entry."""

    def __init__(self, members):
        kinds: dict[tuple[str, ...], str] = {}
        self._opaque: set[tuple[str, ...]] = set()
        for m in members:
            parts = split_member(m.name)
            if not parts:
                continue
            target = whiteout_target(parts, entry=m.name)
            if is_opaque(parts):
                parts, kind = parts[:-1], "dir"
                self._opaque.add(parts)
            elif target is not None:
                parts, kind = target, "gone"
            else:
                kind = {EntryType.DIR: "dir", EntryType.SYMLINK: "link"}.get(m.type, "other")
            if parts:
                kinds[parts] = kind if kind != "dir" else kinds.get(parts, "dir")
            for end in range(1, len(parts)):
                kinds.setdefault(parts[:end], "dir")
        self._kinds = kinds

    def touches(self, parts: list[str]) -> bool | None:
        for i in range(len(parts)):
            kind = self._kinds.get(tuple(parts[:i + 1]))
            if kind is None:
                return False
            if kind == "link":
                return None
            if kind != "dir" or i == len(parts) - 1 or tuple(parts[:i + 1]) in self._opaque:
                return True
        return True                # the root itself: every layer counts


def layers_touching(layers, sources: list[str], *, index=None) -> list[str] | None:
    """diff_ids (in order) of the ``layers`` (LayerRefs) that can change what ``sources`` copy.
    ``index(ref)``: a layer's ``HeaderIndex`` (or None) where it has no directory."""
    prefixes = [source_prefix(s) for s in sources]
    found = []
    for ref in layers:
        header_index = None
        if ref.directory is None:
            header_index = index(ref) if index is not None else None
            if header_index is None:
                return None
        hit = False
        for parts in prefixes:
            answer = header_index.touches(parts) if header_index is not None else touches(Path(ref.directory), parts)
            if answer is None:
                return None
            hit = hit or answer
        if hit:
            found.append(ref.diff_id)
    return found
