"""Copy one extracted layer (overlay lower-dir format, from the layer store) onto a host root.

Host-root isolation rebuilds ``/`` for every stage. Unpacking each base layer's tarball again
would re-do decompression and tar parsing per stage; instead every layer is extracted once
into the layer store (``LayerStore``, shared with the privileged mode, persistent with
``--cache-dir``) and its directory is copied onto the root here: whiteouts (0/0 character
devices) delete, opaque directories (``trusted.overlay.opaque=y``) drop what lower layers put
there, hard links inside the layer stay hard links. Files are always unlinked and created anew
(never written in place), so a file some process still has mapped is never changed under it.

The walk is top-down and every directory is checked with ``lstat`` before it is entered, so a
symlink a layer planted can never redirect a later entry (into mason's runtime, say). Kept
paths (:class:`~mason.snapshot.keptpaths.KeptPaths`) follow their kind's rule.
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import Callable

from mason.errors import BuildError
from mason.snapshot.keptpaths import REFUSED_HINT, KeptPaths, refused

_OPAQUE = ("trusted.overlay.opaque", "user.overlay.opaque")   # the second: extracted without CAP_SYS_ADMIN


def apply_lower(lower: str, root: str, kept: KeptPaths, *, warn: Callable[[str], None]) -> None:
    ancestors = kept.ancestors
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, os.stat_result, str]] = []
    # (directory, below an opaque one): under an opaque directory the lower layers show
    # nothing, in its subdirectories either (overlayfs does not merge below one)
    stack: list[tuple[str, bool]] = [("", False)]
    while stack:
        rel_dir, hidden = stack.pop()
        src_dir = os.path.join(lower, rel_dir) if rel_dir else lower
        dst_dir = os.path.join(root, rel_dir) if rel_dir else root
        names = []
        with os.scandir(src_dir) as it:
            entries = list(it)
        if rel_dir and (hidden or _is_opaque(src_dir)):
            hidden = True
            _drop_children(dst_dir, rel_dir, {e.name for e in entries}, kept, ancestors)
        for de in entries:
            rel = f"{rel_dir}/{de.name}" if rel_dir else de.name
            st = de.stat(follow_symlinks=False)
            dst = os.path.join(dst_dir, de.name)
            hit = kept.kind_of(rel)
            if hit is not None:
                kind, path = hit
                if kind == "mount":
                    continue
                if not (rel in ancestors and stat.S_ISDIR(st.st_mode)):
                    raise BuildError(refused(rel, kind, path), hint=REFUSED_HINT)
            if rel in ancestors:
                if stat.S_ISDIR(st.st_mode) and not _whiteout(st):
                    dirs.append((dst, st, de.path))
                    stack.append((rel, hidden))
                else:
                    warn(kept.not_applied(rel))
                continue
            if _whiteout(st):
                _remove(dst)
                continue
            names.append(de.name)
            if stat.S_ISDIR(st.st_mode):
                try:
                    existing = os.lstat(dst)
                except FileNotFoundError:
                    existing = None
                if existing is None or not stat.S_ISDIR(existing.st_mode):
                    if existing is not None:
                        _remove(dst)
                    os.mkdir(dst, 0o700)
                dirs.append((dst, st, de.path))
                stack.append((rel, hidden))
                continue
            _remove(dst)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                first = links.get((st.st_dev, st.st_ino))
                if first is not None:
                    os.link(first, dst)
                    continue
                links[(st.st_dev, st.st_ino)] = dst
            _create(de.path, dst, st)
    for dst, st, src in reversed(dirs):
        _meta(src, dst, st)


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    for name in _OPAQUE:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def _drop_children(dst_dir: str, rel_dir: str, keep: set[str], kept: KeptPaths, ancestors) -> None:
    """An opaque directory: what lower layers put there goes (except kept entries; an ancestor
    of one the layer does not have is emptied around it, as the walk does those it has)."""
    try:
        names = os.listdir(dst_dir)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        rel = f"{rel_dir}/{name}"
        if name in keep or kept.kind_of(rel) is not None:
            continue
        if rel in ancestors:
            _drop_children(os.path.join(dst_dir, name), rel, set(), kept, ancestors)
            continue
        _remove(os.path.join(dst_dir, name))


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _create(src: str, dst: str, st: os.stat_result) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                remaining = st.st_size
                while remaining > 0:
                    sent = os.sendfile(fd_out, fd_in, None, min(remaining, 1 << 30))
                    if sent == 0:
                        break
                    remaining -= sent
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(dst, 0o600)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        os.mknod(dst, (mode & stat.S_IFMT(mode)) | 0o600, st.st_rdev)
    elif stat.S_ISSOCK(mode):
        return
    _meta(src, dst, st)


def _meta(src: str, dst: str, st: os.stat_result) -> None:
    link = stat.S_ISLNK(st.st_mode)
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not link:
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    try:
        for name in os.listxattr(src, follow_symlinks=False):
            if name.startswith(("trusted.overlay.", "user.overlay.")):
                continue
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
    except OSError:
        pass
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
