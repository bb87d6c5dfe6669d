"""Resolve relative paths inside one root directory without ever following a symlink.

Every component is opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's
file descriptor (openat), so a symlink or a non-directory anywhere on the way is
detected by the kernel rather than by a racy lstat-then-open, and ``..`` never reaches
here (``paths.split_member`` refuses it). Files are then created or changed with the
``*at`` calls (``dir_fd=``) relative to the resolved parent.

Docker follows in-root symlinks when extracting (inside a chroot); mason refuses instead:
a layer never needs to write through a link, since layer writers record real paths,
so a layer that does is either broken or hostile.

Directory descriptors are cached (bounded) because most entries share a parent; any
removal in the root must call ``forget()`` because a cached descriptor could then point
at a directory that is no longer reachable from the root.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from mason.errors import LayerError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE_LIMIT = 256
_CACHED_DEPTH = 8


class RootDir:
    """Directory descriptors inside ``root``; use as a context manager."""

    def __init__(self, root: Path):
        self.root = Path(root)
        try:
            self.fd = os.open(self.root, _DIR_FLAGS)
        except OSError as err:
            raise LayerError(f"cannot open root directory {self.root}: {err.strerror}") from err
        self._cache: dict[tuple[str, ...], int] = {}
        # Directories this object created: what is in one was put there through this object
        # (a skeleton skips the look for a lower layer's entry at each left-out file's path).
        self.made: set[tuple[str, ...]] = set()
        # Of those, the ones without setgid (mkdir gives a directory the setgid bit and group
        # of a setgid parent): a file made in one gets this process's group, as made.
        self._plain: set[tuple[str, ...]] = set()
        self._root_plain = not os.fstat(self.fd).st_mode & stat.S_ISGID

    def __enter__(self) -> "RootDir":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.forget()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def forget(self) -> None:
        """Drop cached descriptors (call after anything in the root was removed)."""
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def dir_fd(self, parts: tuple[str, ...], *, entry: str, create: bool = False,
               mode: int = 0o755, replace: bool = False) -> int | None:
        """Descriptor of the directory ``parts`` (``()`` is the root itself).

        Missing components are created with ``mode`` when ``create`` is true, otherwise
        None is returned. A symlink or non-directory on the way raises LayerError naming
        ``entry``, unless ``replace`` (with ``create``): then it is unlinked and a directory
        made in its place, never followed (a lower layer's entry under a path this layer
        makes a directory, as overlayfs shows it). The descriptor belongs to this object.
        """
        if not parts:
            return self.fd
        cached = self._cache.get(parts)
        if cached is not None:
            return cached
        if len(self._cache) >= _CACHE_LIMIT:
            self.forget()
        start = len(parts) - 1
        while start > 0 and parts[:start] not in self._cache:
            start -= 1
        cur = self._cache[parts[:start]] if start else self.fd
        for i in range(start, len(parts)):
            name = parts[i]
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=cur)
            except FileNotFoundError:
                if not create:
                    self._release(cur, i)
                    return None
                try:
                    os.mkdir(name, mode, dir_fd=cur)
                    self._made(parts[:i + 1])
                except FileExistsError:
                    pass  # only a concurrent writer could get here; re-open checks it
                try:
                    nxt = os.open(name, _DIR_FLAGS, dir_fd=cur)
                except OSError as err:
                    problem = self._explain(err, cur, parts[:i + 1], entry)
                    self._release(cur, i)
                    raise problem from err
            except OSError as err:
                swapped = self._replaced(cur, name) if create and replace else None
                if swapped is None:
                    problem = self._explain(err, cur, parts[:i + 1], entry)
                    self._release(cur, i)
                    raise problem from err
                nxt = swapped
                self._made(parts[:i + 1])
            self._release(cur, i)
            # Shallow directories are shared by many entries: keep them. Deep chains
            # are not cached, so a hostile depth cannot exhaust descriptors.
            if i + 1 <= _CACHED_DEPTH or i + 1 == len(parts):
                self._cache[parts[:i + 1]] = nxt
            cur = nxt
        return cur

    def _made(self, parts: tuple[str, ...]) -> None:
        self.made.add(parts)
        if self.is_plain(parts[:-1]):
            self._plain.add(parts)

    def is_plain(self, parts: tuple[str, ...]) -> bool:
        """Whether ``parts`` is the root or a directory made here, and has no setgid bit now
        (its mode is set after the layer: while it is written, only inheritance sets it)."""
        return self._root_plain if not parts else parts in self._plain

    @staticmethod
    def _replaced(parent: int, name: str) -> int | None:
        """Swap the non-directory ``name`` for a new directory; None if it is not that case."""
        try:
            if stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                return None
            os.unlink(name, dir_fd=parent)
            os.mkdir(name, 0o755, dir_fd=parent)
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError:
            return None

    def _release(self, fd: int, depth: int) -> None:
        """Close ``fd`` (the directory at ``depth`` components) unless the cache owns it."""
        if depth > _CACHED_DEPTH and fd != self.fd and fd not in self._cache.values():
            os.close(fd)

    @staticmethod
    def _explain(err: OSError, parent: int, prefix: tuple[str, ...], entry: str) -> LayerError:
        where = "/".join(prefix)
        is_link = err.errno == errno.ELOOP
        if err.errno == errno.ENOTDIR:  # O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR
            try:
                is_link = stat.S_ISLNK(os.stat(prefix[-1], dir_fd=parent,
                                               follow_symlinks=False).st_mode)
            except OSError:
                pass
        if is_link:
            return LayerError(f"{entry!r}: path component {where!r} is a symbolic link; "
                              f"mason never writes through links inside the root")
        if err.errno == errno.ENOTDIR:
            return LayerError(f"{entry!r}: path component {where!r} is not a directory")
        return LayerError(f"{entry!r}: cannot open directory {where!r}: {err.strerror}")

    def proc_path(self, parent_fd: int, name: str) -> str:
        """A path naming ``name`` in ``parent_fd`` for calls without a ``dir_fd`` form
        (``lgetxattr``/``lsetxattr`` on symlinks); safe with ``follow_symlinks=False``
        because only the final component could be a link."""
        return f"/proc/self/fd/{parent_fd}/{name}"
