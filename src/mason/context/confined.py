"""Reading the build's own control files (the Dockerfile, ``.dockerignore``) from a context.

A context comes from whoever opened the merge request, so a ``Dockerfile`` or ``.dockerignore``
in it may be a symlink to ``/etc/shadow`` or to a registry ``config.json``. The one symlink
policy for every context path is that no link is followed out of the context: COPY and ADD
resolve links inside it (``mason.fsops.rootpath``); a control file whose path lies inside the
context but whose links lead outside is refused before a byte of the target is read, so no
error message can quote it. A path the invoker names outside the context (``--dockerfile
/ci/Dockerfile``) is the invoker's choice and is read as given.
"""

from __future__ import annotations

import os
import stat

from mason.errors import BuildError, UsageError


def inside(path: str, root: str) -> bool:
    """True when ``path`` (absolute, normalised) is ``root`` or below it."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def confined_path(context_dir: str, path: str, what: str) -> str:
    """The host path to read ``path`` from, refusing one that leaves the context by a link."""
    lexical = os.path.abspath(path)
    root = os.path.abspath(context_dir)
    if not inside(lexical, root):
        return lexical
    real, real_root = os.path.realpath(lexical), os.path.realpath(root)
    if not inside(real, real_root):
        shown = os.path.relpath(lexical, root)
        raise BuildError(f"{what} {shown!r} is a symbolic link that leaves the build context: refused "
                         "(its target is not read)",
                         hint=f"make {shown} a regular file inside the context, or pass the file "
                              "outside the context explicitly with --dockerfile")
    return real


def read_text(context_dir: str, path: str, what: str) -> str | None:
    """The UTF-8 text of a control file, or None when it does not exist (not a regular file)."""
    host = confined_path(context_dir, path, what)
    try:
        # O_NONBLOCK: a fifo named Dockerfile must not hang the build at open
        fd = os.open(host, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
