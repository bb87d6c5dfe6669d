"""Resolving paths inside a root directory as the root's own processes would see them.

Anything mason does to a stage root from the host side (reading ``/etc/passwd``, creating a mount
point stub, creating WORKDIR) must behave as if the root were ``/``: an absolute symlink such as
``etc -> /host-etc`` or ``passwd -> ../../../../etc/shadow`` must stay inside the root instead of
reaching the host's files.  :func:`resolve` walks the path one component at a time, re-rooting
absolute links and clamping ``..`` at the root, like ``openat2(RESOLVE_IN_ROOT)``.
"""

from __future__ import annotations

import os
import stat

from mason.errors import BuildError

_MAX_LINKS = 40  # the kernel's limit for one lookup


def resolve(root: str | os.PathLike, path: str, *, follow_last: bool = True) -> str:
    """Host path of ``path`` (absolute or relative to the root's ``/``), all symlinks resolved
    inside ``root``.  Missing components are kept as written (the caller may create them)."""
    root = os.path.abspath(root)
    pending = [c for c in path.split("/") if c not in ("", ".")]
    pending.reverse()
    parts: list[str] = []
    links = 0
    while pending:
        name = pending.pop()
        if name == "..":
            if parts:
                parts.pop()
            continue
        candidate = os.path.join(root, *parts, name)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            parts.append(name)
            continue
        if stat.S_ISLNK(st.st_mode) and (pending or follow_last):
            links += 1
            if links > _MAX_LINKS:
                raise BuildError(f"too many levels of symbolic links resolving {path} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                parts = []
            more = [c for c in target.split("/") if c not in ("", ".")]
            pending.extend(reversed(more))
            continue
        parts.append(name)
    return os.path.join(root, *parts)


def relative(root: str | os.PathLike, host_path: str) -> str:
    """``host_path`` (returned by :func:`resolve`) relative to ``root``, without leading slash."""
    return os.path.relpath(host_path, os.path.abspath(root)).removeprefix(".").lstrip("/")
