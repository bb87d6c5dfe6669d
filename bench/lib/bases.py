"""Base images made without mason: debootstrap'ed Debian, busybox, and a ~100k-file root.

Each is built once into an OCI layout under the cache directory (umoci, no mason code
involved, so a bug in mason cannot skew its own benchmark) and pushed with skopeo to the
benchmark's registry at the start of every invocation.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .deps import BenchError, debian_mirror
from .mounts import unmount_under

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _run(argv: list[str], **kw) -> None:
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv[:4]))}... exited {r.returncode}: {r.stderr.strip()[-2000:]}")


def debian_rootfs_tar(cache: Path) -> Path:
    """debootstrap --variant=minbase bookworm from this machine's mirror, cached as a tarball."""
    tar = cache / "debian-bookworm-minbase.tar"
    if tar.exists():
        return tar
    target = cache / "debootstrap.tmp"
    shutil.rmtree(target, ignore_errors=True)
    mirror = debian_mirror()
    print(f"bench: debootstrap --variant=minbase bookworm from {mirror} (once; cached in {tar})", flush=True)
    try:
        _run(["debootstrap", "--variant=minbase", "bookworm", str(target), mirror])
    finally:
        unmount_under(target)
    # An image's /dev is empty: the runtime provides devices.
    for p in (target / "dev").iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    shutil.rmtree(target / "var/cache/apt/archives", ignore_errors=True)
    (target / "var/cache/apt/archives/partial").mkdir(parents=True)
    _run(["tar", "-C", str(target), "--numeric-owner", "-cf", str(tar) + ".tmp", "."])
    os.replace(str(tar) + ".tmp", tar)
    shutil.rmtree(target)
    return tar


def _populate_busybox(rootfs: Path) -> None:
    (rootfs / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", rootfs / "bin/busybox")
    listing = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True, text=True, check=True).stdout
    for rel in listing.split():
        link = rootfs / rel
        if link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    for d in ("tmp", "etc", "root", "var"):
        (rootfs / d).mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc/group").write_text("root:x:0:\n")


def _populate_many(rootfs: Path, count: int) -> None:
    """count tiny files, 1000 per directory, under /big."""
    for i in range(count):
        d = rootfs / "big" / f"d{i // 1000:04d}"
        if i % 1000 == 0:
            d.mkdir(parents=True)
        (d / f"f{i:06d}").write_bytes(b"%d\n" % i)


def _layout(cache: Path, name: str, layers: list, cmd: str) -> Path:
    """An OCI layout cache/oci-NAME with tag 'latest', one layer per populate callback."""
    layout = cache / f"oci-{name}"
    if (layout / ".complete").exists():
        return layout
    shutil.rmtree(layout, ignore_errors=True)
    bundle = cache / f"bundle-{name}.tmp"
    shutil.rmtree(bundle, ignore_errors=True)
    print(f"bench: making base image {name} with umoci", flush=True)
    ref = f"{layout}:latest"
    _run(["umoci", "init", "--layout", str(layout)])
    _run(["umoci", "new", "--image", ref])
    _run(["umoci", "config", "--image", ref, "--config.env", PATH_ENV, "--config.cmd", cmd,
          "--os", "linux", "--architecture", "amd64"])
    for populate in layers:
        _run(["umoci", "unpack", "--image", ref, str(bundle)])
        populate(bundle / "rootfs")
        _run(["umoci", "repack", "--image", ref, str(bundle)])
        shutil.rmtree(bundle)
    _run(["umoci", "gc", "--layout", str(layout)])
    (layout / ".complete").write_text("")
    return layout


def make_bases(cache: Path, bigroot_files: int) -> dict[str, Path]:
    """name -> OCI layout (tag latest) for debian, busybox and bigroot-<N>."""
    cache.mkdir(parents=True, exist_ok=True)
    tar = debian_rootfs_tar(cache)

    def untar(rootfs: Path) -> None:
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-xpf", str(tar)])

    return {
        "debian": _layout(cache, "debian", [untar], "bash"),
        "busybox": _layout(cache, "busybox", [_populate_busybox], "sh"),
        f"bigroot-{bigroot_files}": _layout(
            cache, f"bigroot-{bigroot_files}",
            [_populate_busybox, lambda r: _populate_many(r, bigroot_files)], "sh"),
    }


def push_bases(layouts: dict[str, Path], registry_host: str) -> dict[str, str]:
    """skopeo copy each layout to REGISTRY/bench/NAME:latest; returns name -> reference."""
    refs = {}
    for name, layout in layouts.items():
        ref = f"{registry_host}/bench/{name}:latest"
        _run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{ref}"])
        refs[name] = ref
    return refs
