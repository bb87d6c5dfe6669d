"""``RUN --mount`` without mount rights: contents placed at the target for one RUN, then removed.

The chroot and host-root levels cannot mount (Docker's default seccomp profile), so each
mount is emulated in the root itself, and undone before the step's snapshot is compared, so
nothing of it reaches the layer and the image equals the privileged mode's:

* whatever the image has at the target is first moved aside (renamed into ``aside``, a
  directory on the same filesystem outside what the RUN sees, or, failing that, to a hidden
  sibling) and renamed back afterwards: same inodes, so "restored byte for byte" holds by
  construction; missing parents are made as :class:`Stubs` and removed again;
* ``bind`` (context, stage, image) and secrets: a copy (``cp -a`` semantics); a secret keeps its
  source file's mode (0400 unless ``mode=``) and owner, and is scrubbed (overwritten with zeros,
  then unlinked) right after the RUN. The RUN's supervisor (``chrootinit``) scrubs the same
  files when the RUN ends, and when mason dies mid-RUN (its lifeline hangs up), so a SIGKILLed
  mason does not leave a secret in the root; :meth:`EmulatedMounts.secret_files` names them;
* ``tmpfs``: an empty directory (mode 1777 as a fresh tmpfs);
* a target inside another mount's (a cache in a cache) is placed in the outer one once that
  is there, its parents made without following a symlink (they are the RUN's own files);
* ``cache`` (``move=True``): the cache directory itself is renamed into place and back
  (copied in and synchronised back when it lives on another filesystem), so it persists in
  ``--cache-dir`` between builds; the caller serialises users of one cache (``sharing=``).

What cannot be emulated, and is documented: a read-only bind is writable (the writes are
discarded with the copy), and the parent directory's mtime is put back only if the RUN itself
did not change that directory.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import uuid
from types import TracebackType

from mason.errors import BuildError
from mason.sandbox.rootfs import resolve
from mason.sandbox.scrub import scrub_file
from mason.sandbox.spec import Mount
from mason.sandbox.stubs import Stubs


class _Placed:
    def __init__(self, mount: Mount, host: str):
        self.mount, self.host = mount, host
        self.aside: str | None = None
        self.parent_times: tuple[int, int] | None = None
        self.parent_after: int | None = None
        self.cache_moved = False
        self.keep_point = False   # inside another mount: leave its mount point there, as a mount does
        self.source_was_dir = True
        self.identity: tuple[int, int] | None = None    # (st_dev, st_ino) of a placed secret


class EmulatedMounts:
    """``with EmulatedMounts(root, mounts, aside_dir): run the command``."""

    def __init__(self, root: str, mounts, aside_dir: str):
        self.root = os.path.abspath(root)
        self.mounts = list(mounts)
        self.aside_dir = aside_dir
        self._stubs = Stubs(self.root)
        self._placed: list[_Placed] = []

    def __enter__(self) -> "EmulatedMounts":
        try:
            # by target, as BuildKit sorts a RUN's mounts: an outer mount is placed first
            for m in sorted(self.mounts, key=lambda m: posixpath.normpath(m.target)):
                self._place(m)
        except BaseException:
            self._undo()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        problem = self._undo()
        if problem and exc is None:
            raise BuildError(problem)

    # --- placing -----------------------------------------------------------------------------
    def _place(self, m: Mount) -> None:
        inside = self._inside_placed(m.target)
        host = _make_parents_nofollow(*inside, m.target) if inside else resolve(self.root, m.target)
        parent = os.path.dirname(host)
        placed = _Placed(m, host)
        if not inside and not os.path.isdir(parent):
            self._stubs.ensure(os.path.dirname(m.target.rstrip("/")) or "/", is_dir=True)
        pst = os.stat(parent)
        placed.parent_times = (pst.st_atime_ns, pst.st_mtime_ns)
        if os.path.lexists(host):
            placed.aside = self._move_aside(host)
        else:
            placed.keep_point = inside is not None
        self._placed.append(placed)
        if m.kind == "tmpfs":
            os.mkdir(host)
            os.chmod(host, 0o1777)
        elif m.source is None:
            raise BuildError(f"RUN --mount at {m.target} has no source to place")
        elif getattr(m, "move", False):
            placed.source_was_dir = os.path.isdir(m.source)    # a cache; else an ssh agent socket
            placed.cache_moved = _try_rename(str(m.source), host)
            if not placed.cache_moved:
                _copy(str(m.source), host)
        elif m.source.is_dir():
            _copy(str(m.source), host)
        else:
            shutil.copy2(m.source, host)
            st = os.stat(m.source)
            os.chown(host, st.st_uid, st.st_gid)
            os.chmod(host, st.st_mode & 0o7777)
            if getattr(m, "in_memory", False):
                placed_st = os.lstat(host)
                placed.identity = (placed_st.st_dev, placed_st.st_ino)
        placed.parent_after = os.stat(parent).st_mtime_ns

    def secret_files(self) -> list[tuple[str, int, int]]:
        """(host path, st_dev, st_ino) of each secret placed: what the RUN's supervisor scrubs
        when the RUN ends or mason dies (only if the path is still that file)."""
        return [(p.host, *p.identity) for p in self._placed if p.identity is not None]

    def _inside_placed(self, target: str) -> tuple[str, str] | None:
        """(host path of the innermost mount placed so far that ``target`` lies in, the rest
        of ``target`` below it), or None."""
        norm = posixpath.normpath(target)
        best = None
        for placed in self._placed:
            outer = posixpath.normpath(placed.mount.target).rstrip("/")
            if norm.startswith(outer + "/") and (best is None or len(outer) > len(best[0])):
                best = (outer, placed.host)
        return (best[1], norm[len(best[0]) + 1:]) if best else None

    def _move_aside(self, host: str) -> str:
        name = f".mason-aside-{uuid.uuid4().hex[:12]}"
        for where in (self.aside_dir, os.path.dirname(host)):
            os.makedirs(where, exist_ok=True)
            dest = os.path.join(where, name)
            if _try_rename(host, dest):
                return dest
        raise BuildError(f"cannot move what the image has at {host} aside for a RUN --mount")

    # --- undoing -----------------------------------------------------------------------------
    def _undo(self) -> str | None:
        problem = None
        for placed in reversed(self._placed):
            m, host = placed.mount, placed.host
            parent = os.path.dirname(host)
            try:
                untouched = os.stat(parent).st_mtime_ns == placed.parent_after   # the RUN left it alone
                if getattr(m, "move", False) and m.source is not None:
                    if placed.cache_moved:
                        if os.path.lexists(host) and not _try_rename(host, str(m.source)):
                            raise OSError(f"cannot move the cache back from {m.target}")
                    elif os.path.lexists(host):
                        shutil.rmtree(m.source, ignore_errors=True)
                        _copy(host, str(m.source))
                        _remove(host)
                    if placed.source_was_dir and not os.path.isdir(m.source):
                        os.makedirs(m.source, exist_ok=True)   # the RUN removed the cache dir itself
                elif placed.identity is not None:
                    if not scrub_file(host, *placed.identity):
                        _remove(host)
                else:
                    _remove(host)
                if placed.aside is not None:
                    os.rename(placed.aside, host)
                elif placed.keep_point and not os.path.lexists(host):
                    if m.kind == "tmpfs" or (m.source is not None and m.source.is_dir()):
                        os.mkdir(host, 0o755)
                    else:
                        os.close(os.open(host, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
                if untouched and placed.parent_times is not None:
                    os.utime(parent, ns=placed.parent_times)
            except OSError as exc:
                problem = problem or f"cannot undo RUN --mount at {m.target}: {exc}"
        self._placed.clear()
        self._stubs.remove()
        return problem


def _make_parents_nofollow(base: str, rel: str, target: str) -> str:
    """``base/rel`` with its missing parents made (0755), refusing a symlink anywhere below
    ``base``: an outer mount's contents (a cache) are the RUN's own, so a link there must not
    decide where the inner mount goes. Returns the host path of the target."""
    path = base
    parts = [p for p in rel.split("/") if p]
    for index, part in enumerate(parts):
        path = os.path.join(path, part)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if index < len(parts) - 1:
                os.mkdir(path, 0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise BuildError(f"cannot mount at {target}: {'/'.join(parts[:index + 1])} is a symlink "
                             "in the mount it lies in")
        if index < len(parts) - 1 and not stat.S_ISDIR(st.st_mode):
            raise BuildError(f"cannot mount at {target}: {'/'.join(parts[:index + 1])} is not a directory")
    return path


def _try_rename(src: str, dst: str) -> bool:
    try:
        os.rename(src, dst)
        return True
    except OSError as exc:
        if exc.errno in (18,):      # EXDEV: another filesystem
            return False
        raise


def _copy(src: str, dst: str) -> None:
    """A copy with modes, times, xattrs and owners, done in-process: in host-root isolation the
    root's own tools (``cp``) are the image's, and may not exist."""
    try:
        shutil.copytree(src, dst, symlinks=True)
        for dirpath, dirnames, filenames in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            for name in [".", *dirnames, *filenames]:
                s = os.path.normpath(os.path.join(dirpath, name))
                st = os.lstat(s)
                os.chown(os.path.normpath(os.path.join(dst, rel, name)), st.st_uid, st.st_gid,
                         follow_symlinks=False)
        shutil.copystat(src, dst)
    except OSError as exc:
        raise BuildError(f"cannot place RUN --mount contents at {dst}: {exc}") from exc


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
