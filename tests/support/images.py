"""Test base images built without mason's code: GNU tar / Python tarfile, umoci, skopeo.

* ``build_busybox_layout``: busybox-static + applet symlinks + /etc/passwd, /etc/group.
* ``build_multiplatform_layout``: an OCI index with linux/amd64 and linux/arm64 manifests.
* ``build_whiteout_layout``: several layers with a file whiteout, an opaque directory and
  a deleted file, for testing layer flattening.

Each returns the path of an OCI image layout whose tag ``latest`` names the image;
``push_layout`` copies one to a registry with skopeo.
"""

from __future__ import annotations

import io
import json
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile

BUSYBOX = "/bin/busybox"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
FIXED_MTIME = 1_600_000_000


def run(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _new_image(layout: str, tag: str, arch: str = "amd64") -> None:
    if not os.path.exists(os.path.join(layout, "index.json")):
        run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "config", "--image", f"{layout}:{tag}", "--os", "linux", "--architecture", arch,
        "--config.cmd", "/bin/sh", "--config.env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")


def _add_tar_layer(layout: str, tag: str, tar_path: str) -> None:
    run("umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", tar_path)


def busybox_rootfs(directory: str, busybox: str = BUSYBOX) -> str:
    """A directory tree with ``busybox`` (the host's by default), its applet links and minimal
    user databases (the applet list is the host busybox's: the same Debian version)."""
    os.makedirs(os.path.join(directory, "bin"))
    os.makedirs(os.path.join(directory, "etc"))
    os.makedirs(os.path.join(directory, "tmp"), mode=0o1777)
    os.makedirs(os.path.join(directory, "root"), mode=0o700)
    shutil.copy2(busybox, os.path.join(directory, "bin", "busybox"))
    applets = run(BUSYBOX, "--list").split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", os.path.join(directory, "bin", applet))
    with open(os.path.join(directory, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(directory, "etc", "group"), "w") as f:
        f.write(GROUP)
    return directory


def _tar_directory(source: str, tar_path: str) -> str:
    run("tar", "--sort=name", f"--mtime=@{FIXED_MTIME}", "--owner=0", "--group=0", "--numeric-owner",
        "-C", source, "-cf", tar_path, ".")
    return tar_path


def build_busybox_layout(workdir: str, *, tag: str = "latest", arch: str = "amd64", layout: str | None = None,
                         busybox: str = BUSYBOX) -> str:
    layout = layout or os.path.join(workdir, "busybox-layout")
    scratch = tempfile.mkdtemp(prefix=f"busybox-{arch}-", dir=workdir)
    rootfs = busybox_rootfs(os.path.join(scratch, "rootfs"), busybox)
    tar_path = _tar_directory(rootfs, os.path.join(scratch, "layer.tar"))
    _new_image(layout, tag, arch)
    _add_tar_layer(layout, tag, tar_path)
    return layout


def _write_blob(layout: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


ARM64_BUSYBOX_DEB = os.path.join(os.path.dirname(__file__), "..", "..", ".mason", "debs", "busybox-static_arm64.deb")


def arm64_busybox(workdir: str) -> str:
    """Debian's arm64 busybox-static (downloaded by scripts/setup), unpacked with dpkg-deb."""
    if not os.path.exists(ARM64_BUSYBOX_DEB):
        raise RuntimeError(f"{ARM64_BUSYBOX_DEB} is missing: run scripts/setup")
    target = tempfile.mkdtemp(prefix="busybox-arm64-deb-", dir=workdir)
    run("dpkg-deb", "-x", ARM64_BUSYBOX_DEB, target)
    return os.path.join(target, "bin", "busybox")


def build_multiplatform_layout(workdir: str, *, native: bool = False) -> str:
    """Two single-platform busybox images (tags amd64 and arm64) joined by an index tagged latest.
    ``native``: the arm64 image holds arm64's busybox (runnable under qemu-aarch64), not the host's."""
    layout = os.path.join(workdir, "multiplatform-layout")
    for arch in ("amd64", "arm64"):
        busybox = arm64_busybox(workdir) if native and arch == "arm64" else BUSYBOX
        build_busybox_layout(workdir, tag=arch, arch=arch, layout=layout, busybox=busybox)
    with open(os.path.join(layout, "index.json")) as f:
        top = json.load(f)
    by_tag = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in top["manifests"]}
    manifests = []
    for arch in ("amd64", "arm64"):
        descriptor = {k: by_tag[arch][k] for k in ("mediaType", "digest", "size")}
        descriptor["platform"] = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            descriptor["platform"]["variant"] = "v8"
        manifests.append(descriptor)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    blob = _write_blob(layout, json.dumps(index, separators=(",", ":")).encode())
    top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json", **blob,
                             "annotations": {"org.opencontainers.image.ref.name": "latest"}})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(top, f)
    return layout


def _tar_layer(path: str, entries: list[tuple[str, str, bytes | None]]) -> str:
    """Write a layer tar from (name, kind, content) with kind 'dir' or 'file'."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = FIXED_MTIME
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = content or b""
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return path


# What the whiteout image's merged filesystem must contain (on top of busybox).
WHITEOUT_EXPECTED = {
    "data/a/y": b"y1\n",
    "data/b/new": b"new in layer 3\n",
    "data/d/kept": b"kept\n",
}
WHITEOUT_ABSENT = ["data/a/x", "data/b/p", "data/b/q", "data/c"]


def build_whiteout_layout(workdir: str) -> str:
    """busybox + three layers: files, then a whiteout of a/x and c's replacement, then an opaque b/ and
    a whiteout of c."""
    layout = build_busybox_layout(workdir, layout=os.path.join(workdir, "whiteout-layout"))
    layers = [
        [("data", "dir", None), ("data/a", "dir", None), ("data/a/x", "file", b"x1\n"),
         ("data/a/y", "file", b"y1\n"), ("data/b", "dir", None), ("data/b/p", "file", b"p1\n"),
         ("data/b/q", "file", b"q1\n"), ("data/c", "file", b"c1\n")],
        [("data/a/.wh.x", "file", b""), ("data/c", "file", b"c2\n"), ("data/d", "dir", None),
         ("data/d/kept", "file", b"kept\n")],
        [("data/b", "dir", None), ("data/b/.wh..wh..opq", "file", b""), ("data/b/new", "file", b"new in layer 3\n"),
         ("data/.wh.c", "file", b"")],
    ]
    for i, entries in enumerate(layers, start=1):
        _add_tar_layer(layout, "latest", _tar_layer(os.path.join(workdir, f"whiteout-{i}.tar"), entries))
    return layout


def push_layout(layout: str, destination: str, *, tag: str = "latest", creds: str | None = None,
                all_platforms: bool = False) -> None:
    """``skopeo copy oci:LAYOUT:TAG docker://DESTINATION`` (TLS verification off: test CAs)."""
    cmd = ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
    if creds:
        cmd += ["--dest-creds", creds]
    if all_platforms:
        cmd.append("--all")
    run(*cmd, f"oci:{layout}:{tag}", f"docker://{destination}")
