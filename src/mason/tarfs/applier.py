"""Write tar members into a root directory, safely (used by extract.py).

What is accepted or refused is ``mason.tarfs.policy``'s decision, taken before anything is
written; this module only writes. In apply mode (one directory for all layers) a lower layer's
symlink or file where this layer has a directory is replaced by the directory (never followed),
and a whiteout's or opaque marker's missing parents are created, so the flattened root is the
one overlayfs shows for the same layers in overlay mode. With a kept rule
(``ExtractOptions.kept``: host-root isolation's ``/``), a member the rule leaves out is not
written, and an opaque directory's pruning spares the kept paths.

Every filesystem call is relative to a directory descriptor obtained from ``RootDir``
(no symlink followed on the way); the final component is never followed either
(``O_NOFOLLOW``, ``follow_symlinks=False``, or an ``O_PATH`` descriptor for devices and
fifos). What a member replaces is removed first, so duplicate members: the later wins.

Metadata order matters: content, then chown (it clears setuid/setgid and
``security.capability``), then chmod, then xattrs, then mtime. Directories get their
mode and mtime after the whole layer, deepest first, so writing their children does not
change them and a read-only directory mode never blocks the extraction.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from mason.errors import LayerError
from mason.tarfs.entries import EntryType
from mason.tarfs.policy import OPAQUE, SKIP, WHITEOUT, WRITE, LayerPolicy
from mason.tarfs.reader import Member, TarStream
from mason.tarfs.rootdir import RootDir

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_DEV_TYPES = {EntryType.CHAR: stat.S_IFCHR, EntryType.BLOCK: stat.S_IFBLK}
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"   # the same mark where trusted.* needs a privilege we lack


class Applier:
    def __init__(self, root: Path, options, label: str):
        self._options = options
        self._overlay = options.mode == "overlay"
        self._label = label
        self._root = RootDir(root)
        self._policy = LayerPolicy(label, limits=options.limits, allow_devices=options.allow_devices,
                                   allowed_devices=options.allowed_devices)
        self._paths = self._policy.written
        self._dirs: dict[tuple[str, ...], tuple[int, int]] = {}
        self._opaque: list[tuple[tuple[str, ...], str]] = []
        self._skeleton = options.skeleton
        self.skipped: set[str] = set()     # skeleton mode: files and hardlinks not created
        self._entered: set[tuple[str, ...]] = set()   # skeleton mode: paths this layer created
        self._kept = options.kept
        self._ids = (os.geteuid(), os.getegid()) if options.same_owner else None   # what a new file gets
        self._left: set[tuple[str, ...]] = set()      # members the kept rule left out

    def __enter__(self) -> "Applier":
        return self

    def __exit__(self, *exc) -> None:
        self._root.close()

    # -- per member ---------------------------------------------------------------------
    @property
    def entries(self) -> int:
        return self._policy.entries

    def add(self, m: Member, tar: TarStream | None) -> None:
        """``tar`` None: headers only (a skeleton from recorded members), no file data to read."""
        decision = self._policy.decide(m)
        parts = decision.parts
        if decision.action is SKIP:
            return
        if self._kept is not None and not self._kept_applies(decision, m):
            return
        if decision.action is OPAQUE:
            self._opaque_marker(parts, m.name)
            return
        if decision.action is WHITEOUT:
            self._whiteout(parts, m)
            return
        kind = m.type
        assert kind is not None                 # the policy refused sockets and unknown types
        if self._skeleton and kind in (EntryType.FILE, EntryType.HARDLINK):
            # The end state has no directory or link here either: remove what is there. In a
            # directory this layer made, only this layer can have put something there.
            made = self._root.made
            if parts[:-1] in made and parts not in made and parts not in self._entered:
                self._dir(parts[:-1], m.name)
            else:
                self._prepare(parts, m.name)
            self.skipped.add("/" + "/".join(parts))
            return
        if self._skeleton:
            self._entered.add(parts)
        if kind is EntryType.DIR:
            self._directory(parts, m)
        elif kind is EntryType.HARDLINK:
            assert decision.link is not None        # the policy names every hardlink's target
            self._hardlink(parts, decision.link, m)
        elif kind is EntryType.FILE:
            assert tar is not None, "a file's data is read from the stream"
            stream = tar
            # A file this process creates in a directory without setgid already has the
            # owner it wants when that is this process's own (``RootDir.is_plain``).
            owned = (m.uid, m.gid) == self._ids and self._root.is_plain(parts[:-1])
            self._create(parts, m, lambda parent, name: self._file(parent, name, m, stream, owned))
        elif kind is EntryType.SYMLINK:
            self._create(parts, m, lambda parent, name: self._symlink(parent, name, m))
        else:
            self._create(parts, m, lambda parent, name: self._node(parent, name, m))

    def _kept_applies(self, decision, m: Member) -> bool:
        """The kept rule's verdict on a member (``ExtractOptions.kept``)."""
        assert self._kept is not None
        if decision.action is not WRITE:      # an opaque marker's directory, a whiteout's target
            return self._kept.applies(decision.parts, directory=decision.action is OPAQUE, entry=m.name)
        if decision.link is not None and decision.link in self._left:
            raise LayerError(f"entry {m.name!r}: hardlink to {m.linkname!r}, which this root keeps "
                             f"out of the layer (the container provides it)",
                             hint="build with --isolation=chroot")
        if self._kept.applies(decision.parts, directory=m.type is EntryType.DIR, entry=m.name):
            return True
        self._left.add(decision.parts)
        return False

    def _prepare(self, parts: tuple[str, ...], entry: str, keep_dir: bool = False) -> int:
        """Parent descriptor of ``parts`` with whatever was at ``parts`` removed (a
        directory is kept when ``keep_dir``)."""
        parent = self._dir(parts[:-1], entry)
        if self._remove(parent, parts[-1], entry, keep_dir=keep_dir):
            parent = self._dir(parts[:-1], entry)
        return parent

    def _dir(self, parts: tuple[str, ...], entry: str, mode: int = 0o755) -> int:
        """The directory ``parts``, made if missing; a lower layer's non-directory on the way is
        replaced (the policy has refused any this layer made)."""
        fd = self._root.dir_fd(parts, entry=entry, create=True, mode=mode, replace=True)
        assert fd is not None                   # create=True never answers None
        return fd

    def _create(self, parts: tuple[str, ...], m: Member, make) -> None:
        """Run ``make(parent_fd, name)``; if the name is taken, remove it and retry once
        (trying first saves a stat per member in the common case: nothing there)."""
        parent = self._dir(parts[:-1], m.name)
        try:
            make(parent, parts[-1])
            return
        except LayerError as err:
            if not isinstance(err.__cause__, FileExistsError):
                raise
        make(self._prepare(parts, m.name), parts[-1])

    def _remove(self, parent: int, name: str, entry: str, *, keep_dir: bool = False) -> bool:
        """Remove ``name``; True when a directory went (cached descriptors were dropped)."""
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        try:
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=parent)
                return False
            if keep_dir:
                return False
            shutil.rmtree(name, dir_fd=parent)
        except OSError as err:
            raise LayerError(f"entry {entry!r}: cannot remove existing {name!r}: "
                             f"{err.strerror or err}") from err
        self._root.forget()
        return True

    def _file(self, parent: int, name: str, m: Member, tar: TarStream, owned: bool) -> None:
        fd = self._os(m, "create", os.open, name, _CREATE, 0o600, dir_fd=parent)
        try:
            written = 0
            for block in tar.read_data():
                written += os.write(fd, block)
            if written != m.size:
                raise LayerError(f"entry {m.name!r}: {written} bytes of content, header says {m.size}")
            if not owned:
                self._owner(m, fd)
            self._os(m, "chmod", os.fchmod, fd, m.mode)
            self._xattrs(m, fd)
            self._os(m, "set mtime", os.utime, fd, ns=(m.mtime_ns, m.mtime_ns))
        finally:
            os.close(fd)

    def _symlink(self, parent: int, name: str, m: Member) -> None:
        self._os(m, "create symlink", os.symlink, m.linkname, name, dir_fd=parent)
        if self._options.same_owner:
            self._os(m, "chown", os.chown, name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)
        self._xattrs(m, self._root.proc_path(parent, name), follow=False)
        self._os(m, "set mtime", os.utime, name, ns=(m.mtime_ns, m.mtime_ns), dir_fd=parent,
                 follow_symlinks=False)

    def _node(self, parent: int, name: str, m: Member) -> None:
        if m.type is EntryType.FIFO:
            self._os(m, "create fifo", os.mkfifo, name, 0o600, dir_fd=parent)
        else:
            self._os(m, "create device", os.mknod, name, _DEV_TYPES[m.type] | 0o600,
                     os.makedev(m.devmajor, m.devminor), dir_fd=parent)
        fd = os.open(name, _PATH, dir_fd=parent)
        try:
            path = f"/proc/self/fd/{fd}"
            if self._options.same_owner:
                self._os(m, "chown", os.chown, path, m.uid, m.gid)
            self._os(m, "chmod", os.chmod, path, m.mode)
            self._xattrs(m, path)
            self._os(m, "set mtime", os.utime, path, ns=(m.mtime_ns, m.mtime_ns))
        finally:
            os.close(fd)

    def _directory(self, parts: tuple[str, ...], m: Member) -> None:
        self._prepare(parts, m.name, keep_dir=True)
        fd = self._dir(parts, m.name, mode=0o700)
        if self._options.same_owner:
            self._os(m, "chown", os.fchown, fd, m.uid, m.gid)
        self._xattrs(m, fd)
        self._dirs[parts] = (m.mode, m.mtime_ns)

    def _hardlink(self, parts: tuple[str, ...], target: tuple[str, ...], m: Member) -> None:
        """``target`` is a non-directory this layer wrote (the policy checked it)."""
        parent = self._prepare(parts, m.name)
        tparent = self._root.dir_fd(target[:-1], entry=m.name)  # _prepare may have reset fds
        if tparent is None:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} does not exist in the root")
        self._os(m, "create hardlink", os.link, target[-1], parts[-1], src_dir_fd=tparent,
                 dst_dir_fd=parent, follow_symlinks=False)

    # -- whiteouts ------------------------------------------------------------------------
    def _whiteout(self, target: tuple[str, ...], m: Member) -> None:
        entry = m.name
        if target in self._paths.written:
            return  # a layer's own content is never hidden by its own whiteout
        if self._overlay:
            parent = self._prepare(target, entry)
            try:
                os.mknod(target[-1], stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
            except OSError as err:
                raise LayerError(f"entry {entry!r}: cannot create overlay whiteout: "
                                 f"{err.strerror}", hint="overlay mode needs CAP_MKNOD") from err
            # The marker's own time, not the clock's: two extractions of a layer are equal trees.
            self._os(m, "set mtime", os.utime, target[-1], ns=(m.mtime_ns, m.mtime_ns), dir_fd=parent,
                     follow_symlinks=False)
            return
        self._remove(self._dir(target[:-1], entry), target[-1], entry)

    def _opaque_marker(self, directory: tuple[str, ...], entry: str) -> None:
        fd = self._dir(directory, entry)
        if self._overlay:
            try:
                os.setxattr(fd, OVERLAY_OPAQUE_XATTR, b"y")
            except OSError as err:
                if err.errno != errno.EPERM:
                    raise LayerError(f"entry {entry!r}: cannot set {OVERLAY_OPAQUE_XATTR}: "
                                     f"{err.strerror}") from err
                # Without CAP_SYS_ADMIN (host-root isolation in a container) the lower dir is
                # never mounted, only copied onto / by hostapply, which reads this one too.
                self._os_xattr(fd, USER_OPAQUE_XATTR, entry)
            return
        self._opaque.append((directory, entry))

    @staticmethod
    def _os_xattr(fd: int, key: str, entry: str) -> None:
        try:
            os.setxattr(fd, key, b"y")
        except OSError as err:
            raise LayerError(f"entry {entry!r}: cannot mark the opaque directory ({key}): "
                             f"{err.strerror}") from err

    def _prune(self, fd: int, prefix: tuple[str, ...], entry: str) -> None:
        """Remove everything under ``fd`` this layer did not write (opaque semantics)."""
        kept = self._kept
        for name in sorted(os.listdir(fd)):
            parts = prefix + (name,)
            if kept is not None and kept.is_kept(parts):
                continue
            is_dir = stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
            holds_kept = kept is not None and kept.holds_kept(parts)
            if holds_kept and not is_dir:
                continue
            if parts in self._paths.ancestors or (parts in self._paths.written and is_dir) or holds_kept:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                try:
                    self._prune(sub, parts, entry)
                finally:
                    os.close(sub)
            elif parts not in self._paths.written:
                self._remove(fd, name, entry)

    # -- end of layer --------------------------------------------------------------------
    def finish(self) -> None:
        for directory, entry in self._opaque:
            fd = self._root.dir_fd(directory, entry=entry)
            if fd is not None:
                own = os.dup(fd)  # removals drop RootDir's cached descriptors
                try:
                    self._prune(own, directory, entry)
                finally:
                    os.close(own)
        for parts in sorted(self._dirs, key=len, reverse=True):
            mode, mtime_ns = self._dirs[parts]
            name = "/".join(parts)
            try:
                fd = self._root.dir_fd(parts, entry=name)
            except LayerError:
                continue  # a later member replaced the directory with a symlink or file
            if fd is None:
                continue  # removed by a later member
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            except OSError as err:
                raise LayerError(f"entry {name!r}: cannot set directory mode/mtime: "
                                 f"{err.strerror}") from err

    # -- helpers ---------------------------------------------------------------------------
    def _owner(self, m: Member, fd: int) -> None:
        if self._options.same_owner:
            self._os(m, "chown", os.fchown, fd, m.uid, m.gid)

    def _xattrs(self, m: Member, where, follow: bool = True) -> None:
        if not m.xattrs or not self._options.xattrs:
            return
        for key, value in m.xattrs:
            try:
                if isinstance(where, int):
                    os.setxattr(where, key, value)
                else:
                    os.setxattr(where, key, value, follow_symlinks=follow)
            except OSError as err:
                raise LayerError(f"entry {m.name!r}: cannot set xattr {key}: {err.strerror}",
                                 hint="extract as root, or with xattrs=False to drop them "
                                 "knowingly") from err

    def _os(self, m: Member, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OSError as err:
            hint = None
            if err.errno == errno.EPERM and what == "chown":
                hint = "extract as root (or in a user namespace), or with same_owner=False"
            raise LayerError(f"entry {m.name!r}: cannot {what}: {err.strerror}", hint=hint) from err
