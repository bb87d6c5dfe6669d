"""qemu-aarch64 registered in binfmt_misc for the multi-platform tests, as a CI machine has it.

A CI runner that builds foreign platforms has Debian's ``qemu-user-static`` installed and its
interpreters registered at boot (systemd-binfmt or binfmt-support reading the package's
``/usr/lib/binfmt.d/qemu-aarch64.conf``, flags ``OPF``). A container or a machine without
systemd may have neither binfmt_misc mounted nor the entry registered. ``qemu_aarch64()``
then does what boot would have: mounts binfmt_misc and writes the package's own line to
``register``; afterwards it removes exactly what it added (the entry, the mount), so the
machine is left as it was found. An entry already registered (by the package or anyone) is
used and left alone.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

BINFMT = Path("/proc/sys/fs/binfmt_misc")
CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
ENTRY = "qemu-aarch64"


@contextlib.contextmanager
def qemu_aarch64() -> Iterator[Path]:
    """binfmt_misc with qemu-aarch64 registered (fix-binary), for the duration of the block."""
    if os.geteuid() != 0:
        raise RuntimeError("registering qemu-aarch64 in binfmt_misc needs root (the integration tests run as root)")
    if not CONF.exists():
        raise RuntimeError(f"{CONF} is missing: scripts/setup installs qemu-user-static")
    mounted = registered = False
    if not (BINFMT / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=True)
        mounted = True
    try:
        if not (BINFMT / ENTRY).exists():
            line = CONF.read_text().strip()
            try:
                (BINFMT / "register").write_text(line)
                registered = True
            except FileExistsError:
                pass           # registered meanwhile by someone else: theirs, left alone
        yield BINFMT
    finally:
        if registered:
            (BINFMT / ENTRY).write_text("-1")
        if mounted:
            subprocess.run(["umount", str(BINFMT)], check=True)
