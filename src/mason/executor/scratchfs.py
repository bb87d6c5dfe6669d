"""A build's own filesystem: a fresh ext4 in a sparse file, mounted over a loop device.

Why: a build creates tens of thousands of files (step upper dirs, extracted layers, copies)
and its cleanup deletes them all. On the benchmark machine's root (ext4 *without a
journal*), every inode allocation skips the inodes freed in the last 60-360 s
(``recently_deleted`` in ``fs/ext4/ialloc.c``), rescanning them for each new file: right
after a previous build's cleanup, a RUN creating 7 000 files took 5 s instead of 0.3 s,
which ``dirspread``'s placement hint only partly avoided. A fresh filesystem has no such
history, and the whole work area goes with one ``umount`` and one ``unlink`` instead of a
tree walk. Measured on the benchmark's cold build (medians, bench/README.md): 10.5 s with
the work dir on the host filesystem, 5.3-5.5 s on a fresh ext4 or on tmpfs.

The file is sparse and sized to the host filesystem's free space (a filesystem cannot
promise more than its backing file can get). If the host fills up under it anyway, writes
to the loop device fail and ext4 counts the error: ``errors()`` reads that count, and the
build checks it before writing the image, so such a build fails instead of producing an
image from lost writes (blob contents are also verified by digest on every push).

Not used where it cannot help or cannot work: on tmpfs (no inode history, and a loop over
memory would double the memory used), without root or loop devices (rootless builds), or
without ``mkfs.ext4`` (e2fsprogs). Then the work dir is a plain directory, as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mason.sandbox.capabilities import capability_set
from mason.sandbox.linux import mount_table

_CAP_SYS_ADMIN = 21

MIN_BYTES = 2 << 30                  # below this, a plain directory: ENOSPC is reported either way
MAX_BYTES = 16 << 40                 # ext4 with 4 KiB blocks and default features


def _host_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return min(st.f_bavail * st.f_frsize, MAX_BYTES)


def _is_tmpfs(path: Path) -> bool:
    # os.statvfs has no f_type; the mount table gives the filesystem of the longest mount
    # point holding ``path`` (the last one mounted there, if several).
    target = str(path.resolve())
    best, fstype = "", ""
    for m in mount_table():
        if (target == m.point or target.startswith(m.point.rstrip("/") + "/")) and len(m.point) >= len(best):
            best, fstype = m.point, m.fstype
    return fstype == "tmpfs"


def unavailable(host_dir: Path) -> str | None:
    """Why a scratch filesystem cannot or should not be made under ``host_dir`` (None: it can)."""
    if os.geteuid() != 0:
        return "not root"
    if not capability_set() & (1 << _CAP_SYS_ADMIN):
        # e.g. a CI job container: mkfs and a mount that fails would only cost time
        return "no CAP_SYS_ADMIN to mount it"
    if not os.path.exists("/dev/loop-control"):
        return "no loop devices (/dev/loop-control)"
    if shutil.which("mkfs.ext4") is None:
        return "mkfs.ext4 (e2fsprogs) not installed"
    if _is_tmpfs(host_dir):
        return "the work root is on tmpfs"
    if _host_bytes(host_dir) < MIN_BYTES:
        return "less than 2 GiB free"
    return None


def create(image: Path, mountpoint: Path) -> str | None:
    """Make and mount the scratch filesystem; None on success, else why not (``image`` and
    ``mountpoint`` are then removed again, and nothing is mounted)."""
    reason = unavailable(image.parent)
    if reason is not None:
        return reason
    try:
        with open(image, "xb") as f:
            f.truncate(_host_bytes(image.parent) // 4096 * 4096)
        # lazy_*_init: nothing is zeroed up front (the file stays sparse, mkfs takes ~10 ms);
        # noinit_itable keeps the kernel from zeroing inode tables in the background later.
        mkfs = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                               "lazy_itable_init=1,lazy_journal_init=1,nodiscard", str(image)],
                              capture_output=True, text=True)
        if mkfs.returncode != 0:
            raise OSError(f"mkfs.ext4 failed: {mkfs.stderr.strip()}")
        mountpoint.mkdir()
        mount = subprocess.run(["mount", "-t", "ext4", "-o", "loop,noinit_itable,errors=remount-ro",
                                str(image), str(mountpoint)], capture_output=True, text=True)
        if mount.returncode != 0:
            raise OSError(f"mount failed: {mount.stderr.strip()}")
        os.chmod(mountpoint, 0o700)
        return None
    except OSError as err:
        try:
            mountpoint.rmdir()
        except OSError:
            pass
        image.unlink(missing_ok=True)
        return str(err)


def _device(mountpoint: Path) -> str | None:
    return next((m.source for m in mount_table() if m.point == str(mountpoint)), None)


def errors(mountpoint: Path, sysfs: Path = Path("/sys/fs/ext4")) -> int:
    """How many errors ext4 recorded on the scratch filesystem (0 when it cannot tell)."""
    device = _device(mountpoint)
    if device is None:
        return 0
    try:
        return int((sysfs / os.path.basename(device) / "errors_count").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0
