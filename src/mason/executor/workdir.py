"""A build's private work directory: created fresh, locked while alive, always removed.

Kaniko's original sin was per-build state in a shared, long-lived directory. Here every
build owns ``<root>/mason-build-<random>``; it holds an exclusive ``flock`` on a lock file
inside for as long as the build lives. A directory whose lock can be taken belongs to a dead
process (SIGKILL, OOM, power loss): the next run unmounts whatever is still mounted below it
and removes it.

Where it can (root, loop devices, e2fsprogs, not on tmpfs), everything the build writes lives
on a fresh ext4 of its own mounted at ``<work dir>/fs`` (``mason.executor.scratchfs``: why, and
what it costs); ``sub`` and ``data`` point there, and ``close`` unmounts it like any other
mount below the work dir, then removes its one backing file. That filesystem is made on first
use of ``data``/``sub``, not when the work dir opens: a build whose every step is a cache hit
writes no file, and mkfs, mount, unmount and removal were a large share of its run time.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from mason.executor import scratchfs
from mason.executor.dirspread import spread_subdirs
from mason.executor.treeremoval import remove_tree
from mason.errors import BuildError
from mason.sandbox.linux import mount_points, umount2
from mason.snapshot.overlay import cleanup_stale

PREFIX = "mason-build-"
LOCK_NAME = ".lock"


def mounts_below(path: Path, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points at or below ``path``, deepest first (the order to unmount them in)."""
    prefix = str(path).rstrip("/")
    try:
        points = mount_points(mountinfo)
    except FileNotFoundError:
        return []
    found = {p for p in points if p == prefix or p.startswith(prefix + "/")}
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def unmount_all_below(path: Path, umount: Callable[[str], None] | None = None) -> None:
    """Lazily unmount every mount at or below ``path`` (deepest first)."""
    umount = umount or _lazy_umount
    for mount_point in mounts_below(path):
        umount(mount_point)


def _lazy_umount(target: str) -> None:
    MNT_DETACH = 2
    try:
        umount2(target, MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (22, 2):  # EINVAL: not a mount point any more; ENOENT: gone
            raise


class WorkDir:
    """The private directory of one build. Use as a context manager."""

    def __init__(self, root: Path | str | None = None, *, scratch_fs: bool = True):
        self.root = Path(root) if root is not None else Path(tempfile.gettempdir())
        self.path: Path | None = None
        self._data: Path | None = None         # where sub() directories go: path, or path/fs
        self._scratch_fs = scratch_fs
        self._scratch_refused: str | None = None  # why there is no scratch filesystem
        self._made = threading.Lock()          # stages on worker threads: one scratch fs
        self._lock_fd: int | None = None
        self._early: list[threading.Thread] = []

    def __enter__(self) -> "WorkDir":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _remove_stale_overlays(self.root)
            remove_stale(self.root)
        except OSError as exc:
            raise BuildError(f"cannot create a work directory under {self.root}: {exc.strerror or exc}",
                             hint="pass --work-dir pointing at a writable directory") from exc
        for _attempt in range(5):
            try:
                self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.root))
                fd = os.open(self.path / LOCK_NAME, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise BuildError(f"cannot create a work directory under {self.root}: {exc.strerror or exc}",
                                 hint="pass --work-dir pointing at a writable directory") from exc
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Between creating the lock file and locking it, a concurrent build's
            # remove_stale could take the free lock and delete the new directory: then
            # the lock file has no links left, and we start over with a new one.
            if os.fstat(fd).st_nlink:
                break
            os.close(fd)
        else:
            raise BuildError(f"cannot keep a work directory under {self.root}: concurrent builds "
                             f"keep removing it", hint="give each build its own --work-dir")
        spread_subdirs(self.path)  # see dirspread: keeps file creation fast after mass deletes
        self._lock_fd = fd
        return self.path

    @property
    def data(self) -> Path | None:
        """Where the build's files go (the scratch filesystem, made now if it is not yet)."""
        if self._data is None and self.path is not None:
            with self._made:
                if self._data is None and self.path is not None:
                    self._data = self._make_data(self.path)
        return self._data

    @property
    def scratch_refused(self) -> str | None:
        """Why the build's files are not on a scratch filesystem of their own (None: they are)."""
        _ = self.data
        return self._scratch_refused

    def _make_data(self, path: Path) -> Path:
        if not self._scratch_fs:
            self._scratch_refused = "disabled"
            return path
        self._scratch_refused = scratchfs.create(path / "scratch.img", path / "fs")
        return path / "fs" if self._scratch_refused is None else path

    def check(self) -> None:
        """Raise if the scratch filesystem recorded I/O errors (its host filled up under it):
        what the build wrote may be lost, so nothing may be made from it."""
        if self._data is None or self._data == self.path:
            return                     # nothing written, or not on a scratch filesystem
        count = scratchfs.errors(self._data)
        if count:
            raise BuildError(f"the build's scratch filesystem {self._data} recorded {count} I/O error(s); "
                             "its writes may be lost, so no image is written",
                             hint="the disk under --work-dir probably filled up: free space there")

    def sub(self, *parts: str) -> Path:
        """A subdirectory of the work dir, created on first use."""
        assert self.data is not None, "work dir not open"
        p = self.data.joinpath(*parts)
        if not p.is_dir():
            p.mkdir(parents=True, exist_ok=True)
            # steps/, roots/, layers/: each child is an unrelated tree (one step, one layer)
            spread_subdirs(p)
        return p

    def remove_early(self, *parts: str) -> None:
        """Start removing a subdirectory nothing will use again (e.g. the step dirs once every
        stage is built) in a background thread, so its removal overlaps the image push
        instead of following it. ``close`` waits for it. The subdirectory must hold no mount."""
        assert self.path is not None, "work dir not open"
        if self._data is None:
            return     # nothing was ever written
        victim = self._data.joinpath(*parts)
        if not victim.is_dir() or mounts_below(victim):
            return     # left to close(), which unmounts first
        doomed = victim.with_name(f".removing-{victim.name}-{len(self._early)}")
        os.rename(victim, doomed)     # the name is free again at once; the removal is not
        thread = threading.Thread(target=_remove_quietly, args=(doomed,), name="mason-workdir-rm", daemon=True)
        thread.start()
        self._early.append(thread)

    def close(self) -> None:
        """Unmount everything below the work dir, then remove it. Safe to call twice."""
        if self.path is None:
            return
        path, self.path, self._data = self.path, None, None
        try:
            for thread in self._early:
                thread.join()
            self._early.clear()
            unmount_all_below(path)
            remove_tree(path, fallback=_rmtree_forced)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def _remove_stale_overlays(root: Path) -> None:
    """Overlays a dead build left mounted under ``root`` (outside any work dir, e.g. from an older
    layout) are unmounted first; those inside a stale work dir go with it in ``remove_stale``."""

    cleanup_stale(root)


def _remove_quietly(path: Path) -> None:
    """Early removal in the background: what it cannot remove, close() removes (or reports)."""
    try:
        remove_tree(path, fallback=_rmtree_forced)
    except OSError:
        pass


def _rmtree_forced(path: str) -> None:
    shutil.rmtree(path, onerror=_force_remove)


def _force_remove(func, path, exc_info) -> None:
    # Read-only directories (e.g. from a RUN that chmod'ed) must not make cleanup fail.
    try:
        parent = os.path.dirname(path)
        os.chmod(parent, 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def remove_stale(root: Path) -> list[Path]:
    """Remove work dirs under ``root`` whose owning process is gone. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX) or not entry.is_dir() or entry.is_symlink():
            continue
        lock = entry / LOCK_NAME
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            # Being created right now (lock not yet made) or half removed: only reap if old.
            try:
                if time.time() - entry.stat().st_mtime < 60:
                    continue
            except FileNotFoundError:
                continue
            fd = None
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # alive
            unmount_all_below(entry)
            remove_tree(entry, fallback=_rmtree_forced)
            removed.append(entry)
        finally:
            if fd is not None:
                os.close(fd)
    return removed
