"""Selecting what COPY/ADD reads: wildcard sources, ``.dockerignore``, ``--exclude``, walks.

Copying and content digests both go through this module, so the cache key is computed
over exactly the files a COPY writes. A source tree is the build context (with its
ignore matcher) or another stage's root (no matcher). Paths here are relative to the
tree's root, ``/``-separated, without a leading slash.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from mason.errors import BuildError
from mason.fsops import rootpath
from mason.fsops.pathmatch import PatternList, compile_match, has_magic
from mason.tarfs import devices


class IgnoreMatcher(Protocol):
    """What the Dockerfile front end's ``.dockerignore`` matcher provides.

    ``matches(relpath)`` means "excluded". An optional ``has_exceptions`` attribute
    (False) lets a walk skip an ignored directory without looking inside it for
    ``!``-re-included files; when absent, mason assumes there may be exceptions.
    """

    def matches(self, relpath: str) -> bool: ...


@dataclass(frozen=True)
class SourceTree:
    """A directory COPY reads from: the build context or a stage's root filesystem."""

    root: str
    ignore: IgnoreMatcher | None = None
    label: str = "build context"


@dataclass(frozen=True)
class Selected:
    """One matched source: ``named`` as written/matched, ``real`` after following symlinks."""

    named: str
    real: str
    host: str
    st: os.stat_result

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


@dataclass(frozen=True)
class Entry:
    """One entry under a directory source; ``rel`` is relative to the source directory."""

    rel: str
    host: str
    st: os.stat_result


def _ignored(tree: SourceTree, rel: str) -> bool:
    return tree.ignore is not None and rel != "" and tree.ignore.matches(rel)


def _may_reinclude(tree: SourceTree) -> bool:
    return bool(getattr(tree.ignore, "has_exceptions", True))


def clean_source(pattern: str, tree: SourceTree) -> str:
    """Context-relative clean form of a source; ``../x`` outside the tree is an error."""
    if not pattern.startswith("/"):
        norm = posixpath.normpath(pattern)
        if norm == ".." or norm.startswith("../"):
            raise BuildError(f"source {pattern!r} is outside the {tree.label}: "
                             "COPY and ADD can only read files inside it")
    return rootpath.clean_inroot(pattern).lstrip("/")


def select(tree: SourceTree, pattern: str, excludes: PatternList | None = None,
           *, where: str | None = None, parents: bool = False) -> list[Selected]:
    """Resolve one source (a path or a Go wildcard) to the entries it names, sorted.

    ``parents`` (``COPY --parents``) with ``**`` in the source: BuildKit's include-pattern
    selection instead (:func:`select_included`).

    A source named explicitly (or matched) that is a symlink is followed inside the tree.
    A path that names nothing is an error naming the pattern (and ``where``, e.g.
    "Dockerfile:7"), saying so when .dockerignore excluded it; a wildcard that matches nothing
    selects nothing (BuildKit's AllowEmptyWildcard: ``COPY foo nomatch* /`` copies foo).
    """
    if parents and "**" in pattern:
        pivot, sep, rest = pattern.partition("/./")
        return select_included(tree, pivot if sep else "", rest if sep else pattern, excludes)
    clean = clean_source(pattern, tree)
    names = _expand(tree, clean) if has_magic(clean) else [clean]
    out: list[Selected] = []
    excluded_by_ignore = False
    for named in names:
        real = rootpath.resolve_inroot(tree.root, named).lstrip("/")
        host = rootpath.host_path(tree.root, "/" + real)
        try:
            st = os.stat(host, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if excludes and named and excludes.matches(named):
            continue
        if _ignored(tree, named) or _ignored(tree, real):
            if not (stat.S_ISDIR(st.st_mode) and _may_reinclude(tree)
                    and _has_visible(tree, real, host)):
                excluded_by_ignore = True
                continue
        devices.check_stat(st, named, f"the {tree.label}", BuildError)
        out.append(Selected(named=named, real=real, host=host, st=st))
    if not out and has_magic(clean):
        return out
    if not out:
        at = f" ({where})" if where else ""
        if excluded_by_ignore:
            raise BuildError(f"source {pattern!r} not found in the {tree.label}{at}: it is excluded "
                             "by .dockerignore", hint="remove its pattern from .dockerignore (or add a "
                             f"'!{clean}' line) to copy it")
        raise BuildError(f"source {pattern!r} not found in the {tree.label}{at}: "
                         "no file matches it (after .dockerignore and --exclude)")
    return out


def select_included(tree: SourceTree, pivot: str, pattern: str,
                    excludes: PatternList | None = None) -> list[Selected]:
    """``COPY --parents [PIVOT/./]PATTERN`` with ``**``, as BuildKit builds it: the pivot
    directory (the context root without one) is copied with ``PATTERN`` as its include
    pattern (``**`` spans directories, the .dockerignore dialect), so every entry below it
    whose path relative to it matches is selected, a matched directory with all of it. A
    pattern is a wildcard: matching nothing selects nothing (no required path)."""
    base = clean_source(pivot or ".", tree)
    real_base = rootpath.resolve_inroot(tree.root, base).lstrip("/")
    host_base = rootpath.host_path(tree.root, "/" + real_base)
    if not os.path.isdir(host_base):
        return []
    include = PatternList([pattern], source="COPY --parents")
    out: list[Selected] = []
    taken: list[str] = []       # selected directories: what is below them comes with them
    for entry in walk(tree, real_base, host_base):
        if any(entry.rel.startswith(t + "/") for t in taken) or not include.matches(entry.rel):
            continue
        named = f"{base}/{entry.rel}" if base else entry.rel
        if excludes and excludes.matches(named):
            continue
        out.append(Selected(named=named, real=f"{real_base}/{entry.rel}" if real_base else entry.rel,
                            host=entry.host, st=entry.st))
        if stat.S_ISDIR(entry.st.st_mode):
            taken.append(entry.rel)
    return out


def _expand(tree: SourceTree, clean: str) -> list[str]:
    """Expand a wildcard component by component, like Go's filepath.Glob over the tree."""
    current = [""]
    for comp in clean.split("/"):
        nxt: list[str] = []
        for base in current:
            if not has_magic(comp):
                nxt.append(f"{base}/{comp}" if base else comp)
                continue
            regex = compile_match(comp)
            host_dir = rootpath.resolve(tree.root, base)
            try:
                names = sorted(os.listdir(host_dir))
            except (FileNotFoundError, NotADirectoryError):
                continue
            nxt.extend(f"{base}/{n}" if base else n for n in names if regex.fullmatch(n))
        current = nxt
    return sorted(current)


def _has_visible(tree: SourceTree, rel: str, host: str) -> bool:
    for _ in walk(tree, rel, host):
        return True
    return False


def walk(tree: SourceTree, base_rel: str, base_host: str,
         excludes: PatternList | None = None) -> Iterator[Entry]:
    """Yield the visible entries below a directory source, parents before children.

    Symlinks are not followed. An ignored directory is still yielded (as a parent)
    when the ignore file re-includes something inside it.
    """
    yield from _walk(tree, base_rel, base_host, "", excludes)


def _walk(tree: SourceTree, base_rel: str, host_dir: str, rel_dir: str,
          excludes: PatternList | None) -> Iterator[Entry]:
    try:
        names = sorted(os.listdir(host_dir))
    except PermissionError as exc:
        raise BuildError(f"cannot read {tree.label} directory {rel_dir or base_rel or '/'!r}: {exc}") from None
    for name in names:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        host = os.path.join(host_dir, name)
        st = os.lstat(host)
        if excludes and excludes.matches(rel):
            continue
        ctx_rel = f"{base_rel}/{rel}" if base_rel else rel
        is_dir = stat.S_ISDIR(st.st_mode)
        if _ignored(tree, ctx_rel):
            if is_dir and _may_reinclude(tree):
                children = list(_walk(tree, base_rel, host, rel, excludes))
                if children:
                    yield Entry(rel, host, st)
                    yield from children
            continue
        devices.check_stat(st, ctx_rel, f"the {tree.label}", BuildError)
        yield Entry(rel, host, st)
        if is_dir:
            yield from _walk(tree, base_rel, host, rel, excludes)


def select_all(tree: SourceTree, patterns: Sequence[str], excludes: Sequence[str] = (),
               *, where: str | None = None) -> list[Selected]:
    """All sources of one instruction, in order (each pattern must match something)."""
    plist = PatternList(list(excludes)) if excludes else None
    out: list[Selected] = []
    for p in patterns:
        out.extend(select(tree, p, plist, where=where))
    return out
