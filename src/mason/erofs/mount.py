"""Mounting layer images: can this process do it, and doing it.

EROFS images are mounted straight from their file (``CONFIG_EROFS_FS_BACKED_BY_FILE``,
Linux 6.12+): no loop device to allocate or leak. That needs ``CAP_SYS_ADMIN`` in the
initial user namespace (EROFS is not mountable inside a user namespace), so rootless
builds, older kernels and kernels without EROFS say no to ``probe`` and keep extracting
layers into directories.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mason.erofs import layout
from mason.sandbox import linux


def mount_image(image: Path, target: Path) -> None:
    """Mount ``image`` read-only at the existing directory ``target``."""
    linux.mount(str(image), str(target), "erofs", linux.MS_RDONLY, "")


def unmount(target: Path) -> None:
    try:
        linux.umount2(str(target), 0)
    except OSError as err:
        if err.errno == errno.EINVAL:   # not mounted
            return
        linux.umount2(str(target), linux.MNT_DETACH)


def empty_image() -> bytes:
    """The smallest valid image: a superblock and an empty root directory."""
    root_nid = 1
    dir_block = layout.directory_blocks([(b".", root_nid, layout.FT_DIR), (b"..", root_nid, layout.FT_DIR)])[0]
    root = layout.inode(mode=0o040755, size=layout.BLOCK, u=1, ino=1, uid=0, gid=0, mtime_ns=0, nlink=2,
                        xattr_body=b"")
    meta = (bytes(layout.SLOT) + root).ljust(layout.BLOCK, b"\0")
    head = bytearray(layout.BLOCK)
    head[layout.SUPERBLOCK_OFFSET:layout.SUPERBLOCK_OFFSET + 128] = layout.superblock(
        root_nid=root_nid, inodes=1, blocks=3, meta_blkaddr=2)
    return bytes(head) + dir_block + meta


def probe(scratch: Path) -> str | None:
    """None when an image can be mounted here; otherwise why not (for the build log)."""
    scratch.mkdir(parents=True, exist_ok=True)
    image, target = scratch / "probe.erofs", scratch / "probe"
    try:
        image.write_bytes(empty_image())
        target.mkdir(exist_ok=True)
        try:
            mount_image(image, target)
        except OSError as err:
            return f"cannot mount an EROFS image: {err.strerror}"
        try:
            if os.listdir(target):
                return "a mounted EROFS probe image is not empty"
        finally:
            unmount(target)
        return None
    finally:
        image.unlink(missing_ok=True)
        try:
            target.rmdir()
        except OSError:
            pass
