"""Scrubbing a secret file placed in a root on disk: zeros over its bytes, then unlink.

Where mounts are refused (chroot and host-root levels) a ``RUN --mount=type=secret`` is a copy
in the root, which lies on a disk; unlinking alone frees its blocks without clearing them, and
a freed block keeps its bytes until the filesystem reuses it. Stdlib only: the RUN supervisor
(``chrootinit``, started without the mason package) loads this file by path, so mason and the
supervisor scrub the same way.
"""

import os
import stat


def scrub_file(path: str, dev: int, ino: int) -> bool:
    """Zero and unlink ``path`` if it is still the file placed there (``dev``/``ino``, a regular
    file); True when it did, or when nothing is at ``path``. False when something else is there
    now (the RUN replaced it): that is left to the caller."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if (st.st_dev, st.st_ino) != (dev, ino) or not stat.S_ISREG(st.st_mode):
        return False
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        left = st.st_size
        zeros = bytes(min(left, 1 << 16))
        while left > 0:
            left -= os.write(fd, zeros[:left])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.unlink(path)
    return True
