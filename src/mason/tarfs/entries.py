"""Explicit layer entries and the options that shape every written layer."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mason.errors import LayerError
from mason.tarfs.compress import Compression


class EntryType(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"


@dataclass(frozen=True)
class LayerEntry:
    """One member of a layer, described without touching any filesystem.

    ``path`` is relative to the layer root, ``/``-separated. ``mode`` holds the
    permission bits including setuid/setgid/sticky (``0o7777``). A FILE's content comes
    from ``content``: ``bytes``, or a ``Path`` opened (``O_NOFOLLOW``) only while the entry
    is written, its size taken from the open file. ``linkname`` is a SYMLINK's target
    (stored verbatim) or a HARDLINK's target member path. ``xattrs`` are
    ``(name, value)`` pairs, written as PAX ``SCHILY.xattr.<name>`` records.
    """

    path: str
    type: EntryType
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    content: bytes | Path | None = None
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()

    def __post_init__(self):
        if self.mode & ~0o7777:
            raise LayerError(f"entry {self.path!r}: mode {oct(self.mode)} has bits beyond 0o7777")
        if self.type in (EntryType.SYMLINK, EntryType.HARDLINK) and not self.linkname:
            raise LayerError(f"entry {self.path!r}: a {self.type.value} needs a linkname")
        if self.content is not None and self.type is not EntryType.FILE:
            raise LayerError(f"entry {self.path!r}: only files have content")


def _no_chown(uid: int, gid: int) -> tuple[int, int]:
    return uid, gid


@dataclass(frozen=True)
class LayerOptions:
    """How a layer is written.

    * ``fixed_mtime``: every entry gets this mtime (``--reproducible``).
    * ``mtime_clamp``: mtimes later than this are lowered to it (SOURCE_DATE_EPOCH as
      BuildKit's ``rewrite-timestamp`` applies it); earlier ones are kept.
      Setting both is refused: they mean different things.
    * ``uid``/``gid``: force every entry's owner; ``chown`` maps ``(uid, gid)`` to a new
      pair and runs after the forced values (for id remapping).
    * ``compression``/``level``/``threads``: see compress.py; ``threads`` never changes
      the output bytes. ``verify_compression``: every gzip block is deflated twice and the
      encodings compared (reproducible builds; see gzipblocks.py).
    * ``exclude_xattrs``: name prefixes never copied from a filesystem into a layer:
      overlayfs bookkeeping and SELinux labels describe the build host, not the image.
    * ``include_parents`` (``write_layer`` only): add every parent directory of the
      written paths, so extraction on any base recreates their owner and mode.
    """

    compression: Compression = Compression.GZIP
    level: int | None = None
    threads: int = 2
    verify_compression: bool = False
    fixed_mtime: int | None = None
    mtime_clamp: int | None = None
    uid: int | None = None
    gid: int | None = None
    chown: Callable[[int, int], tuple[int, int]] = field(default=_no_chown)
    exclude_xattrs: tuple[str, ...] = ("trusted.overlay.", "security.selinux")
    include_parents: bool = True

    def __post_init__(self):
        if self.fixed_mtime is not None and self.mtime_clamp is not None:
            raise LayerError("layer options: fixed_mtime and mtime_clamp are exclusive")
        for name in ("fixed_mtime", "mtime_clamp"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise LayerError(f"layer options: {name} must be >= 0, got {value}")

    def mtime(self, mtime: int) -> int:
        if self.fixed_mtime is not None:
            return self.fixed_mtime
        if self.mtime_clamp is not None and mtime > self.mtime_clamp:
            return self.mtime_clamp
        return mtime

    def owner(self, uid: int, gid: int) -> tuple[int, int]:
        if self.uid is not None:
            uid = self.uid
        if self.gid is not None:
            gid = self.gid
        return self.chown(uid, gid)

    def keeps_xattr(self, name: str) -> bool:
        return not name.startswith(self.exclude_xattrs)
