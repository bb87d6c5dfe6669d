"""Mount-point stubs: created in a root for the sandbox's mounts, removed afterwards.

A mount needs an existing target.  When the image lacks ``/proc``, ``/etc/resolv.conf`` or
``/run/secrets/x``, the sandbox creates an empty dir or file there; left behind, those stubs
would show up in the step's layer (Kaniko's leak).  :class:`Stubs` records every entry it
creates and, on exit, removes each one that is still exactly what it created (same inode, still
empty) and restores the mtime of the existing directory it created them in, unless the step
itself changed that directory meanwhile.  A stub the command really used (e.g. files written
into a stub dir) is kept: it is then part of what the step produced.

Targets are resolved with :func:`mason.sandbox.rootfs.resolve`, so a symlink in the image can
not point the mount (or the stub) outside the root.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from types import TracebackType

from mason.errors import BuildError
from mason.sandbox.rootfs import resolve


@dataclass(frozen=True)
class _Created:
    path: str
    is_dir: bool
    ino: int


@dataclass(frozen=True)
class _Touched:
    path: str             # an existing directory a stub was created in
    atime_ns: int
    mtime_ns: int         # before the stub was created
    mtime_after_ns: int   # right after: if still equal at exit, nobody else changed the dir


class Stubs:
    """``with Stubs(root) as stubs: host_path = stubs.ensure("/etc/hosts", is_dir=False)``."""

    def __init__(self, root: str | os.PathLike):
        self.root = os.path.abspath(root)
        self._created: list[_Created] = []
        self._touched: dict[str, _Touched] = {}

    def __enter__(self) -> "Stubs":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()

    def ensure(self, target: str, *, is_dir: bool) -> str:
        """Host path of ``target`` inside the root, creating it (and parents) as stubs if missing."""
        host = resolve(self.root, target)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            self._create(host, is_dir)
            return host
        if stat.S_ISDIR(st.st_mode) != is_dir:
            want = "a directory" if is_dir else "a file"
            raise BuildError(f"cannot mount at {target}: the image has something other than {want} there")
        return host

    def ensure_device(self, target: str, host_device: str) -> str:
        """Like :meth:`ensure` for a character device with the numbers of ``host_device``
        (``mknod``, needs CAP_MKNOD): the chroot runner's ``/dev`` without a tmpfs."""
        host = resolve(self.root, target)
        if not os.path.lexists(host):
            rdev = os.stat(host_device).st_rdev
            self._create(host, False, device=rdev)
        return host

    def _create(self, host: str, is_dir: bool, device: int | None = None) -> None:
        parent = os.path.dirname(host)
        if not os.path.isdir(parent):
            if os.path.lexists(parent):
                raise BuildError(f"cannot create mount point {self._rel(host)}: "
                                 f"{self._rel(parent)} is not a directory in the image")
            self._create(parent, True)
        elif parent not in self._touched and not any(c.path == parent for c in self._created):
            pst = os.stat(parent)
            self._touched[parent] = _Touched(parent, pst.st_atime_ns, pst.st_mtime_ns, -1)
        if is_dir:
            os.mkdir(host, 0o755)
        elif device is not None:
            os.mknod(host, stat.S_IFCHR | 0o666, device)
            os.chmod(host, 0o666)  # mknod applies the umask
        else:
            os.close(os.open(host, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
        self._created.append(_Created(host, is_dir, os.lstat(host).st_ino))
        if parent in self._touched:
            t = self._touched[parent]
            self._touched[parent] = _Touched(parent, t.atime_ns, t.mtime_ns, os.stat(parent).st_mtime_ns)

    def remove(self) -> None:
        unchanged = {p: t for p, t in self._touched.items() if _mtime(p) == t.mtime_after_ns}
        for c in reversed(self._created):
            try:
                st = os.lstat(c.path)
            except FileNotFoundError:
                continue
            if st.st_ino != c.ino:
                continue  # replaced by the step: its own entry now
            try:
                if c.is_dir:
                    os.rmdir(c.path)  # fails when the step put something inside: then it stays
                elif stat.S_ISCHR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_size == 0):
                    os.unlink(c.path)
            except OSError:
                continue
        for t in unchanged.values():
            os.utime(t.path, ns=(t.atime_ns, t.mtime_ns), follow_symlinks=False)
        self._created.clear()
        self._touched.clear()

    def _rel(self, host: str) -> str:
        return "/" + os.path.relpath(host, self.root)


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
