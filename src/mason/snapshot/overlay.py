"""An overlayfs root for one build step, mounted and always unmounted.

Layout of the caller-owned ``state_dir`` (one per step)::

    state_dir/upper     the step's writes: the diff (kept on exit; the caller owns it)
    state_dir/work      overlayfs scratch (removed on exit)
    state_dir/merged    the mount point (removed on exit)
    state_dir/l/        short symlinks 0, 1, ... -> lower dirs, u -> upper, w -> work
    state_dir/owner     "pid starttime" of the mounting process, for :func:`cleanup_stale`

Mount options are limited to one page (4 KiB).  Instead of chdir-ing into a directory of short
names (Docker's trick; ``os.chdir`` is process-global and forbidden here), the mount names every
dir as ``/proc/self/fd/N/<short>``, where N is an fd this process holds open on ``state_dir/l``:
~19 bytes per layer, so about 200 lower layers fit (Docker caps images at 127).

Leaks: a mount made here lives in the caller's mount namespace, so a process killed with
SIGKILL leaves it behind.  The RUN sandbox never adds mounts to the caller's namespace (its
mounts die with its private namespace); for the overlay itself, :func:`cleanup_stale` finds
overlay mounts under a work root whose owner process is dead, detaches them and removes their
state dirs.  The executor calls it at start-up, so a work dir left by a killed process is
detected and removed by the next run.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Sequence

from mason.errors import BuildError, NotSupportedError
from mason.sandbox import linux

_PAGE = 4096
_OPTIONS = "redirect_dir=off,metacopy=off,index=off"  # keep the upper dir a plain, complete diff


class OverlayRoot:
    """Context manager: ``with OverlayRoot(lowers, state_dir) as ov: ... ov.merged ... ov.upper``.

    ``lowers`` are top-most first; an empty list (``FROM scratch``) gets an empty lower dir.
    """

    def __init__(self, lowers: Sequence[str | os.PathLike], state_dir: str | os.PathLike):
        self.lowers = tuple(Path(p) for p in lowers)
        self.state_dir = Path(state_dir)
        self.upper = self.state_dir / "upper"
        self.work = self.state_dir / "work"
        self.merged = self.state_dir / "merged"
        self._links = self.state_dir / "l"
        self._mounted = False

    def mount_options(self, fd: int) -> str:
        base = f"/proc/self/fd/{fd}"
        lowers = ":".join(f"{base}/{i}" for i in range(max(1, len(self.lowers))))
        return f"lowerdir={lowers},upperdir={base}/u,workdir={base}/w,{_OPTIONS}"

    def __enter__(self) -> "OverlayRoot":
        for p in self.lowers:
            if not p.is_dir():
                raise BuildError(f"overlay lower dir {p} does not exist or is not a directory")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for d in (self.upper, self.work, self.merged, self._links):
            d.mkdir(exist_ok=True)
        (self.state_dir / "owner").write_text(owner_token(os.getpid()))
        lowers = self.lowers
        if not lowers:
            empty = self.state_dir / "empty"
            empty.mkdir(exist_ok=True)
            lowers = (empty,)
        for i, p in enumerate(lowers):
            os.symlink(os.path.abspath(p), self._links / str(i))
        os.symlink(os.path.abspath(self.upper), self._links / "u")
        os.symlink(os.path.abspath(self.work), self._links / "w")
        fd = os.open(self._links, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            options = self.mount_options(fd)
            if len(options) >= _PAGE:
                raise NotSupportedError(
                    f"{len(self.lowers)} lower layers do not fit into one overlay mount "
                    f"({len(options)} bytes of options, limit {_PAGE - 1})",
                    hint="squash the base image or use the walker snapshot mode")
            try:
                linux.mount("overlay", str(self.merged), "overlay", 0, options)
            except OSError as e:
                self._remove_scratch()
                raise BuildError(f"cannot mount overlay at {self.merged}: {e.strerror}",
                                 hint="run with --snapshot-mode=walk where overlayfs is not available") from e
            self._mounted = True
        finally:
            os.close(fd)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Unmount and remove everything but the upper dir; safe to call twice."""
        if self._mounted:
            _unmount(str(self.merged))
            self._mounted = False
        self._remove_scratch()

    def _remove_scratch(self) -> None:
        for d in (self.work, self._links, self.state_dir / "empty"):
            shutil.rmtree(d, ignore_errors=True)
        for p in (self.merged, self.state_dir / "owner"):
            try:
                p.rmdir() if p.is_dir() else p.unlink()
            except FileNotFoundError:
                pass


def _unmount(target: str) -> None:
    try:
        linux.umount2(target, 0)
    except OSError as e:
        if e.errno == errno.EINVAL:  # not mounted any more
            return
        # EBUSY: something still holds it open; detach so it disappears from every view now.
        linux.umount2(target, linux.MNT_DETACH)


def owner_token(pid: int) -> str:
    """``pid starttime``: a pid alone could be reused by an unrelated process."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return f"{pid} {int(fields[19])}"


def _owner_alive(token: str) -> bool:
    try:
        pid = int(token.split()[0])
        return owner_token(pid) == token.strip()
    except (OSError, ValueError, IndexError):
        return False


def cleanup_stale(work_root: str | os.PathLike) -> list[Path]:
    """Unmount overlays under ``work_root`` left by dead processes and remove their state dirs.

    Returns the state dirs removed.  Mounts of live owners (another build running now) are kept.
    """
    root = os.path.abspath(work_root)
    removed = []
    for point in reversed(linux.mount_points()):
        if not point.startswith(root + "/") or os.path.basename(point) != "merged":
            continue
        state = Path(point).parent
        try:
            token = (state / "owner").read_text()
        except OSError:
            continue  # not made by OverlayRoot: not ours to touch
        if _owner_alive(token):
            continue
        _unmount(point)
        shutil.rmtree(state, ignore_errors=True)
        removed.append(state)
    return removed
