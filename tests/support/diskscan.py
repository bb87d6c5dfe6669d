"""Finding a secret's bytes in what a build leaves on disk."""

from __future__ import annotations

import os
from pathlib import Path


def files_holding(root: Path, needle: bytes) -> list[str]:
    """Files under ``root`` whose data holds ``needle``. Only the allocated extents are read
    (SEEK_DATA/SEEK_HOLE): the work dir's scratch filesystem image is a sparse file of tens of
    GB with a few MB of data, and those MB (deleted files' blocks included) are what a disk
    left behind would give away."""
    found = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                if _holds(path, needle):
                    found.append(str(path))
            except OSError:
                continue
    return found


def _holds(path: Path, needle: bytes) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:          # ENXIO: no data past offset
                return False
            end = os.lseek(fd, start, os.SEEK_HOLE)
            os.lseek(fd, max(0, start - len(needle)), os.SEEK_SET)
            left = end - max(0, start - len(needle))
            tail = b""
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                if needle in tail + chunk:
                    return True
                tail, left = chunk[-len(needle):], left - len(chunk)
            offset = end
        return False
    finally:
        os.close(fd)
