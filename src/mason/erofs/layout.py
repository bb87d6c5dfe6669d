"""The EROFS on-disk format, as far as mason writes it (uncompressed, 4 KiB blocks).

Image layout written by ``mason.erofs.image``::

    block 0                superblock at byte 1024
    blocks 1..             file contents, each file in whole blocks (FLAT_PLAIN)
    then                   directory blocks (sorted dirents), also FLAT_PLAIN
    meta_blkaddr..         inodes (extended, 64 bytes, + inline xattrs), 32-byte slots

Only features every EROFS kernel reads are used: no compression, no inline tails, no
shared xattrs, no checksum, no incompat feature bit. ``nid`` is an inode's offset from
the start of the metadata area in 32-byte units; the root directory's must fit in 16 bits,
so it is written first.

Field layouts follow ``include/uapi/linux/erofs_fs.h`` / ``fs/erofs/erofs_fs.h``.
"""

from __future__ import annotations

import stat
import struct

BLOCK_BITS = 12
BLOCK = 1 << BLOCK_BITS
SUPERBLOCK_OFFSET = 1024
MAGIC = 0xE0F5E1E2
SLOT = 32                       # nid unit
INODE_EXTENDED = 64
NAME_MAX = 255
DIRENT = 12

# i_format: bit 0 = extended inode, bits 1..3 = data layout
FORMAT_EXTENDED = 1
LAYOUT_FLAT_PLAIN = 0

# dirent file types
FT_REG, FT_DIR, FT_CHR, FT_BLK, FT_FIFO, FT_SOCK, FT_LNK = 1, 2, 3, 4, 5, 6, 7
_FILE_TYPES = {stat.S_IFREG: FT_REG, stat.S_IFDIR: FT_DIR, stat.S_IFCHR: FT_CHR, stat.S_IFBLK: FT_BLK,
               stat.S_IFIFO: FT_FIFO, stat.S_IFSOCK: FT_SOCK, stat.S_IFLNK: FT_LNK}

# xattr name indexes: the prefix is stored as a number, the rest of the name as bytes
_XATTR_PREFIXES = (
    ("system.posix_acl_access", 2, True),
    ("system.posix_acl_default", 3, True),
    ("user.", 1, False),
    ("trusted.", 4, False),
    ("security.", 6, False),
)

_SUPER = struct.Struct("<IIIBBHQQIIII16s16sIHHH")      # through devt_slotoff; 128 bytes in all
_INODE = struct.Struct("<HHHHQIIIIqII16s")             # erofs_inode_extended
_DIRENT = struct.Struct("<QHBB")
_XATTR_HEADER = struct.Struct("<IB7s")                 # erofs_xattr_ibody_header
_XATTR_ENTRY = struct.Struct("<BBH")

assert _INODE.size == INODE_EXTENDED and _DIRENT.size == DIRENT


class Unrepresentable(Exception):
    """The layer has something this writer does not encode; the caller extracts it instead."""


def blocks_for(size: int) -> int:
    return (size + BLOCK - 1) >> BLOCK_BITS


def file_type(mode: int) -> int:
    return _FILE_TYPES.get(stat.S_IFMT(mode), 0)


def superblock(*, root_nid: int, inodes: int, blocks: int, meta_blkaddr: int, build_time: int = 0) -> bytes:
    if root_nid >= 1 << 16:
        raise Unrepresentable("root inode beyond the 16-bit root nid")
    body = _SUPER.pack(MAGIC, 0, 0, BLOCK_BITS, 0, root_nid, inodes, build_time, 0, blocks,
                       meta_blkaddr, 0, b"\0" * 16, b"mason".ljust(16, b"\0"), 0, 0, 0, 0)
    return body.ljust(128, b"\0")


def encode_rdev(major: int, minor: int) -> int:
    """The kernel's ``new_encode_dev``: what EROFS stores for a device inode."""
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def inode(*, mode: int, size: int, u: int, ino: int, uid: int, gid: int, mtime_ns: int, nlink: int,
          xattr_body: bytes) -> bytes:
    """An extended inode followed by its inline xattrs (``xattr_body`` from ``xattr_body``)."""
    icount = 0 if not xattr_body else 1 + (len(xattr_body) - _XATTR_HEADER.size) // 4
    if uid >= 1 << 32 or gid >= 1 << 32 or nlink >= 1 << 32 or u >= 1 << 32:
        raise Unrepresentable("owner, link count or block address beyond 32 bits")
    seconds, nanos = divmod(mtime_ns, 1_000_000_000)
    head = _INODE.pack(FORMAT_EXTENDED | (LAYOUT_FLAT_PLAIN << 1), icount, mode & 0xFFFF, 0, size, u,
                       ino & 0xFFFFFFFF, uid, gid, seconds, nanos, nlink, b"\0" * 16)
    return head + xattr_body


def xattr_body(xattrs: dict[str, bytes]) -> bytes:
    """Inline xattrs: header, then entries (prefix index, name suffix, value), 4-byte aligned."""
    if not xattrs:
        return b""
    parts = [_XATTR_HEADER.pack(0, 0, b"\0" * 7)]
    for name in sorted(xattrs):
        value = xattrs[name]
        for prefix, index, whole in _XATTR_PREFIXES:  # noqa: B007 (index is read after the break)
            if (name == prefix) if whole else (name.startswith(prefix) and len(name) > len(prefix)):
                suffix = b"" if whole else name[len(prefix):].encode("utf-8", "surrogateescape")
                break
        else:
            raise Unrepresentable(f"xattr {name!r} is in a namespace EROFS does not store")
        if len(suffix) > 255 or len(value) > 0xFFFF:
            raise Unrepresentable(f"xattr {name!r} is too long for an EROFS entry")
        entry = _XATTR_ENTRY.pack(len(suffix), index, len(value)) + suffix + value
        parts.append(entry + b"\0" * (-len(entry) % 4))
    return b"".join(parts)


def directory_blocks(entries: list[tuple[bytes, int, int]]) -> list[bytes]:
    """Pack ``(name, nid, file_type)`` entries (already sorted by name, bytewise, ``.`` and
    ``..`` included) into blocks: in each, the dirents, then the names back to back; the
    last name runs to the first NUL or the block's end (the kernel reads it that way)."""
    blocks: list[bytes] = []
    batch: list[tuple[bytes, int, int]] = []
    used = 0
    for entry in entries:
        name = entry[0]
        if not 0 < len(name) <= NAME_MAX:
            raise Unrepresentable(f"name {name[:40]!r} has a length EROFS cannot store")
        need = DIRENT + len(name)
        if batch and used + need > BLOCK:
            blocks.append(_dir_block(batch))
            batch, used = [], 0
        batch.append(entry)
        used += need
    if batch:
        blocks.append(_dir_block(batch))
    return blocks


def _dir_block(batch: list[tuple[bytes, int, int]]) -> bytes:
    offset = DIRENT * len(batch)
    heads, names = [], []
    for name, nid, ftype in batch:
        heads.append(_DIRENT.pack(nid, offset, ftype, 0))
        names.append(name)
        offset += len(name)
    return (b"".join(heads) + b"".join(names)).ljust(BLOCK, b"\0")
