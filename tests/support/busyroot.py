"""A tiny image root made in the test (static busybox + applet links + passwd/group), for the
sandbox, snapshot and unprivileged-mode tests that work on a plain directory, not an image."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"


def make_busybox_root(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin/busybox")
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout
    for name in applets.split():
        if name != "busybox":
            os.symlink("busybox", root / "bin" / name)
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    (root / "tmp").mkdir(mode=0o1777)
    os.chmod(root / "tmp", 0o1777)
    # Old, fixed times: a test can then tell what a step touched.
    old = 1_600_000_000_000_000_000
    for p in [root, *root.rglob("*")]:
        os.utime(p, ns=(old, old), follow_symlinks=False)
    return root
