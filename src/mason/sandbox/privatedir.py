"""The chroot runner's ``/dev``, ``/proc`` and ``/sys``: the image's own directories, guarded.

In the privileged mode a RUN sees a fresh tmpfs on ``/dev`` and the kernel's ``/proc`` and
``/sys``: nothing it does there can reach the layer.  In chroot mode (no mounts) those paths are
plain directories of the stage root, so without care a RUN writing ``/dev/shm/x`` or ``/dev/foo``
would put it into the image, and the two modes would give different images for one Dockerfile.

:class:`PrivateDir` makes such a directory behave like the privileged mode's for one RUN:

* it records the directory's subtree (``lstat`` of each entry: tiny, images ship these empty)
  before anything is created there;
* afterwards every entry that was not there before (mason's device nodes and ``/dev/shm``, the
  heredoc script copied to ``/dev/pipes``, whatever the command created) is removed
  (``discard``), or refused with :class:`BuildError` (``refuse``: ``/proc``, ``/sys``, where the
  privileged mode's RUN could not have created anything);
* an entry of the image the command changed or removed is refused: in the privileged mode the
  command could not even see it (the tmpfs hides it), and its old content is gone;
* the directory's own times are restored, or the directory removed if mason created it.

So the stat walker afterwards finds exactly what it would find in the privileged mode: nothing.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from mason.errors import BuildError
from mason.sandbox.rootfs import resolve


@dataclass(frozen=True)
class _Seen:
    ino: int
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    rdev: int
    target: str | None


def _seen(path: str, st: os.stat_result) -> _Seen:
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
    mtime = 0 if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns  # a dir's mtime moves with its entries
    return _Seen(st.st_ino, st.st_mode, st.st_uid, st.st_gid, size, mtime, st.st_rdev, target)


class PrivateDir:
    """``with PrivateDir(root, "/dev", on_new="discard") as dev: dev.host_path …``."""

    def __init__(self, root: str | os.PathLike, target: str, *, on_new: Literal["discard", "refuse"]):
        self.root = os.path.abspath(root)
        self.target = target
        self.on_new = on_new
        self.host_path = resolve(self.root, target)
        self._before: dict[str, _Seen] = {}
        self._times: tuple[int, int] | None = None        # (atime, mtime) of an existing dir
        self._parent_times: tuple[str, int, int] | None = None  # when we create the dir itself
        self._created = False
        self._dir_times: dict[str, tuple[int, int]] = {}

    def __enter__(self) -> "PrivateDir":
        try:
            st = os.lstat(self.host_path)
        except FileNotFoundError:
            return self
        if not stat.S_ISDIR(st.st_mode):
            raise BuildError(f"the image has a non-directory at {self.target}; the sandbox needs a directory there")
        self._times = (st.st_atime_ns, st.st_mtime_ns)
        self._before = _scan(self.host_path)
        self._dir_times = {rel: _times(os.path.join(self.host_path, rel))
                           for rel, seen in self._before.items() if stat.S_ISDIR(seen.mode)}
        return self

    def ensure(self) -> str:
        """Create the directory (mode 0755) if the image lacks it; removed again on exit."""
        if self._times is None and not self._created:
            parent = os.path.dirname(self.host_path)
            if not os.path.isdir(parent):
                raise BuildError(f"cannot create {self.target}: its parent is not a directory in the image")
            pst = os.stat(parent)
            self._parent_times = (parent, pst.st_atime_ns, pst.st_mtime_ns)
            os.mkdir(self.host_path, 0o755)
            os.chmod(self.host_path, 0o755)
            self._created = True
        return self.host_path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        problem = self.restore()
        if problem and exc is None:
            raise BuildError(problem, hint="this RUN needs the privileged mode's isolation (mount rights); "
                                           "see docs/unprivileged.md")

    def restore(self) -> str | None:
        """Put the directory back as it was; return what the command did that cannot be undone
        (or is refused), None when nothing."""
        if not os.path.lexists(self.host_path):
            if self._times is not None:
                return f"the RUN removed {self.target}, which the image has (privileged mode: a mount point)"
            return None
        after = _scan(self.host_path)
        new = sorted((p for p in after if p not in self._before), key=lambda p: -p.count("/"))
        changed = [p for p, seen in self._before.items() if after.get(p) != seen]
        refused = new if self.on_new == "refuse" else []
        for rel in new:
            _remove(os.path.join(self.host_path, rel))
        for rel in sorted(self._dir_times, key=lambda p: -p.count("/")):
            if rel not in changed:
                os.utime(os.path.join(self.host_path, rel), ns=self._dir_times[rel], follow_symlinks=False)
        if self._created:
            try:
                os.rmdir(self.host_path)
            except OSError as e:
                return f"cannot remove {self.target} created for the RUN: {e.strerror}"
            parent, atime, mtime = self._parent_times
            os.utime(parent, ns=(atime, mtime), follow_symlinks=False)
        elif self._times is not None:
            os.utime(self.host_path, ns=self._times, follow_symlinks=False)
        if changed:
            shown = ", ".join(f"{self.target}/{p}" for p in sorted(changed)[:3])
            return (f"the RUN changed or removed {shown}: in chroot isolation {self.target} is the image's "
                    f"own directory (privileged mode: a private mount), so the layer would differ")
        if refused:
            shown = ", ".join(f"{self.target}/{p}" for p in refused[:3])
            return (f"the RUN created {shown}: in chroot isolation {self.target} is not mounted "
                    f"(privileged mode: the kernel's {self.target}, where this fails)")
        return None


def _scan(top: str) -> dict[str, _Seen]:
    out: dict[str, _Seen] = {}
    stack = [("", top)]
    while stack:
        rel, full = stack.pop()
        with os.scandir(full) as it:
            for de in it:
                child = f"{rel}/{de.name}" if rel else de.name
                st = de.stat(follow_symlinks=False)
                out[child] = _seen(de.path, st)
                if stat.S_ISDIR(st.st_mode):
                    stack.append((child, de.path))
    return out


def _times(path: str) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_atime_ns, st.st_mtime_ns


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
