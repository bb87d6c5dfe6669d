"""Base images for these tests built with umoci from /bin/busybox (no mason code involved),
and small wrappers around the skopeo/umoci oracles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path


def run(*cmd, **kw) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def busybox_layout(workdir: Path, tag: str = "latest", arch: str = "amd64", extra_layer: bool = True) -> Path:
    """An OCI layout holding busybox (+ /etc/passwd) in one layer and a second small layer."""
    layout = workdir / "busybox-layout"
    if not (layout / "index.json").exists():
        run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "config", "--image", f"{layout}:{tag}", "--os", "linux", "--architecture", arch,
        "--config.cmd", "/bin/sh", "--config.env", "PATH=/bin")
    bundle = workdir / f"bundle-{tag}"
    run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(exist_ok=True)
    (rootfs / "etc").mkdir(exist_ok=True)
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("sh", "ls", "cat", "echo"):
        os.symlink("busybox", rootfs / "bin" / applet)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    run("umoci", "repack", "--refresh-bundle", "--image", f"{layout}:{tag}", bundle)
    if extra_layer:
        (rootfs / "etc" / "motd").write_text("layer two\n")
        (rootfs / "etc" / "passwd").unlink()          # a whiteout in the second layer
        run("umoci", "repack", "--image", f"{layout}:{tag}", bundle)
    shutil.rmtree(bundle)
    return layout


def umoci_unpack(layout: Path, tag: str, dest: Path) -> Path:
    run("umoci", "unpack", "--image", f"{layout}:{tag}", dest)
    return dest / "rootfs"


def umoci_stat(layout: Path, tag: str) -> dict:
    return json.loads(run("umoci", "stat", "--json", "--image", f"{layout}:{tag}"))


def skopeo_inspect(transport_ref: str, raw: bool = False) -> dict:
    args = ["skopeo", "inspect"] + (["--raw"] if raw else []) + [transport_ref]
    return json.loads(run(*args))
