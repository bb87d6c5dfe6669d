"""The benchmark's work tree on a file system of its own: a journaled ext4 in an image file.

This machine's ``/`` is an ext4 without a journal, mounted with ``discard``. There, ext4 does
not reuse an inode deleted in the last minute or so (``recently_deleted()``, a guard that only
applies without a journal) and every freed extent is trimmed synchronously, so creating or
deleting thousands of files right after another build removed its own costs ~1 ms of kernel
time per file (bench/README.md has the micro test: 7 000 files in 11.6 s on ``/var/tmp``, in
0.50 s on a journaled ext4 image on the same disk). The privileged mode never meets this (its
scratch file system is a loop-mounted ext4 of its own); the unprivileged levels write their
roots on whatever disk the container has, which on a Docker or Kubernetes host is usually a
journaled ext4 or XFS under ``/var/lib``. ``--work-fs ext4-journal`` puts the whole work tree
(contexts, every tool's state, host-root's container roots, the registry) on such a disk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def mount_journaled_ext4(image: Path, mountpoint: Path, size_gb: int) -> None:
    """A fresh sparse ``image`` of ``size_gb`` GiB, formatted ext4 with mke2fs's defaults
    (journal included) and loop-mounted at ``mountpoint`` (which must exist, empty)."""
    subprocess.run(["truncate", "-s", f"{size_gb}G", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
