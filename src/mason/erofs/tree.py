"""One layer's entries as an in-memory tree, in overlayfs lower-dir form.

What is accepted or refused is ``mason.tarfs.policy``'s decision (the one every layer writer
takes, before writing); this module only builds. The shapes are those of
``mason.tarfs.applier.Applier`` in overlay mode, so an image and an extracted directory of the
same layer look the same through overlayfs: a later member
replaces an earlier one (a directory over a directory keeps its children), missing parents
appear as 0755 root-owned directories (with mtime 0 where an extraction stamps the time it
ran: the image is shared by every build that uses the layer, so it carries no build's time), ``.wh.<name>`` becomes a 0/0 character device unless
the layer itself wrote ``<name>``, ``.wh..wh..opq`` becomes ``trusted.overlay.opaque=y``, and
the same refusals apply (the policy's).

Nothing here touches the host filesystem: a hostile layer can only produce a hostile image,
which the kernel mounts read-only, ``nodev``-free only for the devices allowed above.
"""

from __future__ import annotations

import stat

from mason.errors import LayerError
from mason.tarfs.entries import EntryType
from mason.tarfs.applier import OVERLAY_OPAQUE_XATTR
from mason.tarfs.policy import OPAQUE, SKIP, WHITEOUT, LayerPolicy
from mason.tarfs.reader import Member

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
        self._policy = LayerPolicy(label, limits=limits, allow_devices=allow_devices,
                                   allowed_devices=allowed_devices)

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
        return self._policy.entries

    def add(self, m: Member, write_data) -> None:
        decision = self._policy.decide(m)
        parts = decision.parts
        if decision.action is SKIP:
            return
        if decision.action is OPAQUE:
            directory = self._dir(parts, m.name, create=True)
            directory.xattrs = {**(directory.xattrs or {}), OVERLAY_OPAQUE_XATTR: b"y"}
            return
        if decision.action is WHITEOUT:
            parent = self._dir(parts[:-1], m.name, create=True)
            self._link(parent, _name(parts[-1]), Node(stat.S_IFCHR))
            return
        kind = m.type
        assert kind is not None                 # the policy refused sockets and unknown types
        xattrs = dict(m.xattrs)
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
            assert decision.link is not None        # the policy names every hardlink's target
            self._hardlink(parts, decision.link, m)
        else:
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

    def _hardlink(self, parts: tuple[str, ...], target: tuple[str, ...], m: Member) -> None:
        """``target`` is a non-directory this layer wrote (the policy checked it)."""
        tparent = self._dir(target[:-1], m.name, create=False)
        node = None if tparent is None else tparent.children.get(_name(target[-1]))
        if node is None or node.is_dir:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} is not a file in the layer")
        parent = self._dir(parts[:-1], m.name, create=True)
        self._link(parent, _name(parts[-1]), node)
