"""Resolving paths inside a root directory as the root's own processes would see them.

Anything mason does to a stage root from the host side (reading ``/etc/passwd``, creating a mount
point stub, creating WORKDIR) must behave as if the root were ``/``: an absolute symlink such as
``etc -> /host-etc`` or ``passwd -> ../../../../etc/shadow`` must stay inside the root instead of
reaching the host's files.  :func:`resolve` walks the path one component at a time, re-rooting
absolute links and clamping ``..`` at the root, like ``openat2(RESOLVE_IN_ROOT)``.
"""

from __future__ import annotations

import os

def resolve(root: str | os.PathLike, path: str, *, follow_last: bool = True) -> str:
    """Host path of ``path`` (absolute or relative to the root's ``/``), all symlinks resolved
    inside ``root``.  Missing components are kept as written (the caller may create them).

    One implementation of scoped resolution serves COPY and the sandbox alike:
    :func:`mason.fsops.rootpath.resolve`.
    """
    from mason.fsops.rootpath import resolve as scoped

    return scoped(os.path.abspath(root), path, follow_final=follow_last)


def relative(root: str | os.PathLike, host_path: str) -> str:
    """``host_path`` (returned by :func:`resolve`) relative to ``root``, without leading slash."""
    return os.path.relpath(host_path, os.path.abspath(root)).removeprefix(".").lstrip("/")
