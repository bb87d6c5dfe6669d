"""One layer's entries as an in-memory tree, in overlayfs lower-dir form.

The rules are those of ``mason.tarfs.applier.Applier`` in overlay mode, so an image and an
extracted directory of the same layer look the same through overlayfs: a later member
replaces an earlier one (a directory over a directory keeps its children), missing parents
appear as 0755 root-owned directories (with mtime 0 where an extraction stamps the time it
ran: the image is shared by every build that uses the layer, so it carries no build's time), ``.wh.<name>`` becomes a 0/0 character device unless
the layer itself wrote ``<name>``, ``.wh..wh..opq`` becomes ``trusted.overlay.opaque=y``, and
the same refusals apply (``..``, a path through a symlink or file, hardlinks outside the
layer or to directories, devices not allowed, ``trusted.overlay.*`` xattrs, sockets).

Nothing here touches the host filesystem: a hostile layer can only produce a hostile image,
which the kernel mounts read-only, ``nodev``-free only for the devices allowed above.
"""

from __future__ import annotations

import stat

from mason.errors import LayerError
from mason.tarfs.entries import EntryType
from mason.tarfs.paths import is_opaque, whiteout_target
from mason.tarfs.applier import OVERLAY_OPAQUE_XATTR
from mason.tarfs.reader import Member
from mason.tarfs.rules import Budget, WrittenPaths, check_device, check_xattr_name, hardlink_target, member_parts

_MODES = {EntryType.FILE: stat.S_IFREG, EntryType.SYMLINK: stat.S_IFLNK, EntryType.CHAR: stat.S_IFCHR,
          EntryType.BLOCK: stat.S_IFBLK, EntryType.FIFO: stat.S_IFIFO}


class Node:
    """An inode. ``children`` only for directories; ``data`` is where a regular file's or a
    symlink's bytes are: ``(first_block, size)`` in the image, or the symlink target bytes."""

    __slots__ = ("mode", "uid", "gid", "mtime_ns", "xattrs", "children", "block", "size", "rdev", "links",
                 "nid", "target")

    def __init__(self, mode: int, uid: int = 0, gid: int = 0, mtime_ns: int = 0):
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime_ns = mtime_ns
        self.xattrs: dict[str, bytes] | None = None
        self.children: dict[bytes, Node] | None = {} if stat.S_ISDIR(mode) else None
        self.block = 0
        self.size = 0
        self.rdev = (0, 0)
        self.links = 0
        self.nid = -1
        self.target = b""

    @property
    def is_dir(self) -> bool:
        return self.children is not None


def _name(part: str) -> bytes:
    return part.encode("utf-8", "surrogateescape")


class LayerTree:
    """Feed members with ``add``; file contents are handed to ``write_data(member, tar)``, which
    returns ``(first_block, size)`` of where it stored them."""

    def __init__(self, label: str, *, allow_devices: bool, allowed_devices, limits):
        self.root = Node(stat.S_IFDIR | 0o755)
        self.root.links = 1
        self._allow_devices = allow_devices
        self._allowed_devices = allowed_devices
        self._budget = Budget(limits, label)
        self._paths = WrittenPaths()

    # -- lookup ------------------------------------------------------------------------
    def _dir(self, parts: tuple[str, ...], entry: str, *, create: bool) -> Node | None:
        node = self.root
        for i, part in enumerate(parts):
            child = node.children.get(_name(part))
            if child is None:
                if not create:
                    return None
                child = Node(stat.S_IFDIR | 0o755)
                self._link(node, _name(part), child)
            elif not child.is_dir:
                where = "/".join(parts[:i + 1])
                if stat.S_ISLNK(child.mode):
                    raise LayerError(f"{entry!r}: path component {where!r} is a symbolic link; "
                                     f"mason never writes through links inside the root")
                raise LayerError(f"{entry!r}: path component {where!r} is not a directory")
            node = child
        return node

    @staticmethod
    def _link(parent: Node, name: bytes, child: Node) -> None:
        old = parent.children.get(name)
        if old is not None:
            old.links -= 1
        parent.children[name] = child
        child.links += 1

    @property
    def entries(self) -> int:
        return self._budget.entries

    def add(self, m: Member, write_data) -> None:
        self._budget.admit(m)
        parts = member_parts(m)
        if parts is None:
            return
        if is_opaque(parts):
            directory = self._dir(parts[:-1], m.name, create=True)
            directory.xattrs = {**(directory.xattrs or {}), OVERLAY_OPAQUE_XATTR: b"y"}
            self._paths.ancestors.add(parts[:-1])
            return
        target = whiteout_target(parts, entry=m.name)
        if target is not None:
            if target not in self._paths.written:  # a layer's own content is never hidden by its own whiteout
                parent = self._dir(target[:-1], m.name, create=True)
                self._link(parent, _name(target[-1]), Node(stat.S_IFCHR))
            return
        kind = m.type
        if kind is None:
            raise LayerError(f"entry {m.name!r}: sockets and unknown file types cannot be extracted")
        xattrs = self._checked_xattrs(m)
        if kind is EntryType.DIR:
            parent = self._dir(parts[:-1], m.name, create=True)
            node = parent.children.get(_name(parts[-1]))
            if node is None or not node.is_dir:
                node = Node(stat.S_IFDIR)
                self._link(parent, _name(parts[-1]), node)
            node.mode = stat.S_IFDIR | m.mode
            node.uid, node.gid, node.mtime_ns = m.uid, m.gid, m.mtime_ns
            if xattrs:
                node.xattrs = {**(node.xattrs or {}), **xattrs}
        elif kind is EntryType.HARDLINK:
            self._hardlink(parts, m)
        else:
            if kind in (EntryType.CHAR, EntryType.BLOCK):
                check_device(m, allow_devices=self._allow_devices, allowed_devices=self._allowed_devices)
            node = Node(_MODES[kind] | (0o777 if kind is EntryType.SYMLINK else m.mode), m.uid, m.gid, m.mtime_ns)
            node.xattrs = xattrs or None
            if kind is EntryType.FILE:
                node.block, node.size = write_data(m)
            elif kind is EntryType.SYMLINK:
                node.target = _name(m.linkname)
                node.size = len(node.target)
            elif kind is not EntryType.FIFO:
                node.rdev = (m.devmajor, m.devminor)
            parent = self._dir(parts[:-1], m.name, create=True)
            self._link(parent, _name(parts[-1]), node)
        self._paths.mark(parts)

    def _hardlink(self, parts: tuple[str, ...], m: Member) -> None:
        target = hardlink_target(parts, m)
        if target[:len(parts)] == parts:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} was removed "
                             f"by this entry")
        tparent = self._dir(target[:-1], m.name, create=False)
        node = None if tparent is None else tparent.children.get(_name(target[-1]))
        if node is None:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} does not exist "
                             f"in the root")
        if node.is_dir:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} is a directory")
        parent = self._dir(parts[:-1], m.name, create=True)
        self._link(parent, _name(parts[-1]), node)

    @staticmethod
    def _checked_xattrs(m: Member) -> dict[str, bytes]:
        for key, _value in m.xattrs:
            check_xattr_name(m, key)
        return dict(m.xattrs)
