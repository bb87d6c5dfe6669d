"""Base images for the conformance cases, made with umoci and tar, without mason.

BuildKit's tests run on Docker Hub's ``busybox:latest``: a config with only ``Cmd`` and
``Env``, and the user database busybox ships (daemon, wheel…), which several tests read. The
``latest`` tag here is busybox-static with that database; the other tags add config fields
(``WorkingDir``, ``User``, ``Env``) to check which of a base's fields a build keeps.
"""

from __future__ import annotations

import os
import tempfile

from tests.support.images import _add_tar_layer, _new_image, _tar_directory, busybox_rootfs, run

# Docker Hub busybox's /etc/passwd and /etc/group (the entries the cases use).
PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
wheel:x:10:root
users:x:100:
nogroup:x:65533:
nobody:x:65534:
"""

# tag -> umoci config flags
VARIANTS = {
    "workdir": ["--config.workingdir", "/srv"],
    "user": ["--config.user", "daemon"],
    "env": ["--config.env", "BASEVAR=from-base", "--config.env", "PATH=/usr/local/bin:/usr/bin:/bin"],
}


def build_conformance_bases(workdir: str) -> str:
    """One OCI layout with tags ``latest`` and ``busybox`` (the same image) and one per
    ``VARIANTS`` entry."""
    layout = os.path.join(workdir, "bases")
    scratch = tempfile.mkdtemp(prefix="rootfs-", dir=workdir)
    rootfs = busybox_rootfs(os.path.join(scratch, "rootfs"))
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        with open(os.path.join(rootfs, "etc", name), "w") as f:
            f.write(text)
    _new_image(layout, "latest")
    _add_tar_layer(layout, "latest", _tar_directory(rootfs, os.path.join(scratch, "layer.tar")))
    run("umoci", "tag", "--image", f"{layout}:latest", "busybox")
    for tag, flags in VARIANTS.items():
        run("umoci", "config", "--image", f"{layout}:latest", "--tag", tag, *flags)
    return layout
