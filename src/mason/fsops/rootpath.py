"""Scoped path resolution: turn a path *inside* a root directory into a host path.

Every write COPY/ADD makes goes through here so nothing can land outside the build's
root. The rules are those of BuildKit's scoped resolution (and of a chroot):

- ``..`` clamps at the root (``/../etc`` is ``<root>/etc``);
- an absolute symlink target is relative to the root, not to the host;
- a relative symlink target is relative to the link's directory, then clamped;
- resolution gives up after 255 symlinks (a loop), like the kernel's ELOOP.

The root belongs to one build and nothing else writes to it while a step runs, so the
check-then-use window of path resolution is not an attack surface here.
"""

from __future__ import annotations

import os
import stat

from mason.errors import BuildError

MAX_SYMLINKS = 255


def clean_inroot(path: str) -> str:
    """Normalise ``path`` to an absolute in-root path with ``..`` clamped at ``/``."""
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts:
                parts.pop()
            continue
        parts.append(comp)
    return "/" + "/".join(parts)


def resolve_inroot(root: str, path: str, *, follow_final: bool = True) -> str:
    """Resolve ``path`` inside ``root`` following symlinks; return the in-root path ("/a/b").

    Components that do not exist are kept as they are (so a destination that is about
    to be created resolves too). ``follow_final=False`` leaves a final symlink unresolved
    (to replace or read the link itself).
    """
    pending = [c for c in path.split("/") if c not in ("", ".")]
    pending.reverse()  # a stack: next component at the end
    resolved: list[str] = []
    links = 0
    while pending:
        comp = pending.pop()
        if comp == "..":
            if resolved:
                resolved.pop()
            continue
        if comp == ".":
            continue
        host = os.path.join(root, *resolved, comp)
        is_last = not pending
        try:
            st = os.lstat(host)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(comp)
            continue
        if stat.S_ISLNK(st.st_mode) and (follow_final or not is_last):
            links += 1
            if links > MAX_SYMLINKS:
                raise BuildError(f"too many levels of symbolic links resolving {path!r}")
            target = os.readlink(host)
            if target.startswith("/"):
                resolved = []
            parts = [c for c in target.split("/") if c not in ("", ".")]
            pending.extend(reversed(parts))
            continue
        resolved.append(comp)
    return "/" + "/".join(resolved)


def host_path(root: str, inroot: str) -> str:
    """Join a *clean* in-root path to the root (no resolution: use resolve_inroot first)."""
    rel = inroot.lstrip("/")
    return os.path.join(root, rel) if rel else root


def resolve(root: str, path: str, *, follow_final: bool = True) -> str:
    """Resolve ``path`` inside ``root`` and return the host path."""
    return host_path(root, resolve_inroot(root, path, follow_final=follow_final))


def make_dirs(root: str, path: str, *, uid: int = 0, gid: int = 0, mode: int = 0o755,
              created: list[str] | None = None) -> str:
    """Create ``path`` (in-root) and its missing parents; return the resolved in-root path.

    Missing directories are created with ``mode`` and owned ``uid:gid`` (BuildKit gives
    parents created by COPY the ``--chown`` owner). Existing components, including
    symlinks to directories, are followed inside the root and left untouched. Each
    created in-root path is appended to ``created`` so the caller knows what it wrote.
    """
    current = "/"
    for comp in [c for c in path.split("/") if c not in ("", ".")]:
        nxt = resolve_inroot(root, current.rstrip("/") + "/" + comp)
        host = host_path(root, nxt)
        try:
            st = os.stat(host, follow_symlinks=False)
        except FileNotFoundError:
            # A symlink may have sent us to a deeper path whose parents are missing too;
            # the missing tail of a resolved path contains no symlinks, so plain mkdirs.
            _mkdir_chain(root, nxt, uid, gid, mode, created)
            current = nxt
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise BuildError(f"cannot create directory {clean_inroot(path)!r}: "
                             f"{nxt!r} exists and is not a directory")
        current = nxt
    return current


def _mkdir_chain(root: str, resolved: str, uid: int, gid: int, mode: int,
                 created: list[str] | None) -> None:
    parts = [c for c in resolved.split("/") if c]
    for k in range(1, len(parts) + 1):
        inroot = "/" + "/".join(parts[:k])
        host = host_path(root, inroot)
        if os.path.lexists(host):
            continue
        os.mkdir(host, mode)
        os.chmod(host, mode)  # mkdir honours the umask; the layer must not
        os.lchown(host, uid, gid)
        if created is not None:
            created.append(inroot)
