"""The hostile-layer policy: one accept/refuse decision per layer member, for every writer.

A base layer is input the image's author controls. mason writes layers three ways: an EROFS
image per layer (``mason.erofs``), a directory per layer in overlayfs lower-dir form
(``Applier`` in overlay mode; host-root isolation then copies those onto ``/``), and a
flattened directory (``Applier`` in apply mode, chroot isolation). ``LayerPolicy.decide`` is
called once per member before any of them writes anything, and it sees only the layer itself
(never the lower layers), so a layer is accepted or refused the same way by every writer, in
every isolation level, whatever sits below it. Writers keep their own defences (``O_NOFOLLOW``
everywhere, ``RootDir``), but a refusal that only one writer could make would be a divergence.

What is refused (``LayerError`` naming the entry), besides what ``rules``/``paths`` refuse
(``..`` components, NUL bytes, names over 4096 bytes, AUFS ``.wh..wh.`` metadata, whiteouts of
``.``/``..``/the root, ``trusted.overlay.*`` xattrs, devices outside ``SAFE_DEVICES``, sockets,
the entry and byte budgets):

* a member whose parent path this same layer made a symlink or a non-directory (symlink then
  file through it); containerd resolves such a path inside the root instead, mason never
  writes through a link;
* ``.wh..wh..opq`` directly at the layer root: overlayfs never treats a layer's root as
  opaque, containerd's directory applier empties the root; both readings are wrong for a base
  image, and in host-root isolation the second would empty the container's ``/``;
* a hardlink whose target is not a non-directory written earlier in the same layer (outside
  the root, absolute, a whiteout, missing, a directory, or in a lower layer: per-layer writers
  cannot link across layers, and containerd's overlay applier cannot either).

What is accepted the same way everywhere: absolute names (taken relative to the root),
duplicates (the later member wins; a directory over a directory keeps its children), setuid
and setgid bits, the safe device nodes, PAX records (the names they set are checked as above).
A path whose parent a *lower* layer made a symlink or a file becomes a directory in this layer,
as overlayfs shows it (the apply writer replaces the lower entry rather than following it).
"""

from __future__ import annotations

from dataclasses import dataclass

from mason.errors import LayerError
from mason.tarfs.entries import EntryType
from mason.tarfs.paths import is_opaque, whiteout_target
from mason.tarfs.reader import Member
from mason.tarfs.rules import Budget, WrittenPaths, check_device, check_xattr_name, hardlink_target, member_parts

SKIP, OPAQUE, WHITEOUT, WRITE = "skip", "opaque", "whiteout", "write"


@dataclass(frozen=True, slots=True)
class Decision:
    """What a writer does with one accepted member. ``action``: SKIP (the root's own entry, or a
    whiteout of what this layer wrote), OPAQUE (``parts`` is the directory), WHITEOUT (``parts``
    is the path deleted), WRITE (``parts`` is the member's path; ``link`` the hardlink target)."""

    action: str
    parts: tuple[str, ...]
    link: tuple[str, ...] | None = None


class _Node:
    """What this layer left at one path: ``kind`` (an EntryType), ``children`` for directories."""

    __slots__ = ("kind", "children")

    def __init__(self, kind: EntryType):
        self.kind = kind
        self.children: dict[str, _Node] | None = {} if kind is EntryType.DIR else None


class LayerPolicy:
    """Decisions for one layer. ``written`` (the paths the layer wrote) is shared with the
    writers: a whiteout never hides the layer's own content, an opaque directory keeps it.
    The layer's own tree is kept as nested nodes, so each decision costs its path's depth
    whatever the layer does (replacing a full directory by a file drops one node)."""

    def __init__(self, label: str, *, limits, allow_devices: bool, allowed_devices):
        self._budget = Budget(limits, label)
        self._allow_devices = allow_devices
        self._allowed_devices = allowed_devices
        self.written = WrittenPaths()
        self._root = _Node(EntryType.DIR)

    @property
    def entries(self) -> int:
        return self._budget.entries

    def decide(self, m: Member) -> Decision:
        self._budget.admit(m)
        parts = member_parts(m)
        if parts is None:
            return Decision(SKIP, ())
        if is_opaque(parts):
            directory = parts[:-1]
            if not directory:
                raise LayerError(f"entry {m.name!r}: an opaque marker at the layer root would hide "
                                 f"every lower layer", hint="a base layer cannot replace the whole "
                                 "filesystem; rebuild the image without the root .wh..wh..opq")
            self._parent(parts, m.name)
            self.written.ancestors.add(directory)
            return Decision(OPAQUE, directory)
        target = whiteout_target(parts, entry=m.name)
        if target is not None:
            self._parent(parts, m.name)     # the writers create the parents of a whiteout
            if target in self.written.written:
                return Decision(SKIP, target)
            return Decision(WHITEOUT, target)
        kind = m.type
        if kind is None:
            raise LayerError(f"entry {m.name!r}: sockets and unknown file types cannot be extracted")
        link = None
        if kind is EntryType.HARDLINK:
            link = self._hardlink(parts, m)
        elif kind in (EntryType.CHAR, EntryType.BLOCK):
            check_device(m, allow_devices=self._allow_devices, allowed_devices=self._allowed_devices)
        for key, _value in m.xattrs:
            check_xattr_name(m, key)
        parent = self._parent(parts, m.name)
        old = parent.get(parts[-1])
        if kind is not EntryType.DIR or old is None or old.kind is not EntryType.DIR:
            parent[parts[-1]] = _Node(kind)  # a directory over a directory keeps its children
        self.written.mark(parts)
        return Decision(WRITE, parts, link)

    def _parent(self, parts: tuple[str, ...], entry: str) -> dict[str, _Node]:
        """The children of ``parts``'s parent, creating the implicit directories the writers
        create; refuses a parent this layer made a symlink or another non-directory."""
        node = self._root
        for i, name in enumerate(parts[:-1]):
            assert node.children is not None        # only directories are walked into
            child = node.children.get(name)
            if child is None:
                child = node.children[name] = _Node(EntryType.DIR)
            elif child.kind is not EntryType.DIR:
                where = "/".join(parts[:i + 1])
                if child.kind is EntryType.SYMLINK:
                    raise LayerError(f"{entry!r}: path component {where!r} is a symbolic link; mason "
                                     f"never writes through links inside the root")
                raise LayerError(f"{entry!r}: path component {where!r} is not a directory")
            node = child
        assert node.children is not None
        return node.children

    def _lookup(self, parts: tuple[str, ...]) -> _Node | None:
        node: _Node | None = self._root
        for name in parts:
            if node is None or node.children is None:
                return None
            node = node.children.get(name)
        return node

    def _hardlink(self, parts: tuple[str, ...], m: Member) -> tuple[str, ...]:
        target = hardlink_target(parts, m)
        if target[:len(parts)] == parts:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} was removed by this entry")
        node = self._lookup(target)
        if node is None:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} does not exist "
                             f"in the layer (a hardlink names a file earlier in the same layer)")
        if node.kind is EntryType.DIR:
            raise LayerError(f"entry {m.name!r}: hardlink target {m.linkname!r} is a directory")
        return target
