"""Helpers for the reliability suite: hand-made OCI layouts (hostile ones included), the CLI as
a subprocess, and checks on what a build left behind (mounts, work dirs, processes)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


# --- tars ------------------------------------------------------------------------------------
def member(name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"", mode: int = 0o644,
           linkname: str = "", size: int | None = None, devmajor: int = 0, devminor: int = 0):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, linkname
    info.mtime = 1_600_000_000
    info.devmajor, info.devminor = devmajor, devminor
    info.size = len(data) if size is None else size
    return info, data


def make_tar(members) -> bytes:
    """Exactly ``members``, no normalisation, so hostile names survive."""
    buf = io.BytesIO()
    with tarfile.TarFile(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


# --- layouts ---------------------------------------------------------------------------------
def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_layout(layout: Path, layers: list[tuple[bytes, bytes, str]], *, config: bytes | None = None,
                 config_media_type: str = OCI_CONFIG, manifest_media_type: str = OCI_MANIFEST,
                 manifest_bytes: bytes | None = None, tweak_manifest=None, tweak_index=None) -> Path:
    """An OCI layout tagged ``latest`` from ``(blob, uncompressed_tar, media_type)`` layers.

    ``config``/``manifest_bytes`` replace the generated documents verbatim (hostile ones);
    ``tweak_manifest(manifest_dict)`` and ``tweak_index(index_dict, manifest_descriptor)`` edit
    them before they are written."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descriptors, diff_ids = [], []
    for blob, tar, media_type in layers:
        descriptors.append({"mediaType": media_type, **_blob(layout, blob)})
        # ``tar`` is the uncompressed tar, or its diff_id already computed (big layers)
        diff_ids.append(tar if isinstance(tar, str) else "sha256:" + hashlib.sha256(tar).hexdigest())
    if config is None:
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": manifest_media_type,
                "config": {"mediaType": config_media_type, **_blob(layout, config)}, "layers": descriptors}
    if tweak_manifest:
        tweak_manifest(manifest)
    data = manifest_bytes if manifest_bytes is not None else json.dumps(manifest).encode()
    descriptor = {"mediaType": manifest_media_type, **_blob(layout, data),
                  "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor]}
    if tweak_index:
        tweak_index(index, descriptor)
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def gz_layer(members) -> tuple[bytes, bytes, str]:
    tar = make_tar(members)
    return gzip.compress(tar, mtime=0), tar, OCI_LAYER_GZ


# --- the CLI ---------------------------------------------------------------------------------
def cli_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO_ROOT / "src"),
           "HOME": os.environ.get("HOME", "/root"), "CI": "true"}
    env.update(extra)
    return env


def mason(*args: str, env: dict | None = None, timeout: float = 180, cwd: str | None = None,
          input: bytes | None = None) -> subprocess.CompletedProcess:
    """``python -m mason ARGS`` in a fresh process; output as text."""
    return subprocess.run([sys.executable, "-m", "mason", *args], capture_output=True, env=env or cli_env(),
                          timeout=timeout, cwd=cwd, input=input)


def text(proc: subprocess.CompletedProcess) -> str:
    return (proc.stdout or b"").decode(errors="replace") + (proc.stderr or b"").decode(errors="replace")


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    out = text(proc)
    assert "Traceback" not in out, out[-3000:]
    assert "internal error" not in out, out[-3000:]


# --- leftovers -------------------------------------------------------------------------------
def mounts_under(path: Path) -> list[str]:
    """Mount points strictly below ``path`` (a tmpfs mounted *at* the work root is the test's own)."""
    prefix = str(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def work_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("mason-build-*")) if root.exists() else []


def processes_with_cmdline(needle: str) -> list[int]:
    found = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            found.append(int(pid))
    return found


def tree_snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_nlink)
    return out


def store_entries(cache_dir: Path) -> list[Path]:
    """Published (non-temporary) entries of the extracted-layer store."""
    base = cache_dir / "layers"
    if not base.exists():
        return []
    return sorted(p for algo in base.iterdir() if algo.is_dir() for p in algo.iterdir()
                  if not p.name.startswith("."))


def skopeo_inspect_raw(ref: str) -> bytes:
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", ref], check=True,
                          capture_output=True).stdout


def skopeo_copy_to_dir(ref: str, dest: Path) -> None:
    """skopeo verifies every blob's digest while copying: a corrupt push fails here."""
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", ref,
                    f"dir:{dest}"], check=True, capture_output=True)


def tag_exists(registry_host: str, repo: str, tag: str) -> bool:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"http://{registry_host}/v2/{repo}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": f"{OCI_MANIFEST},application/vnd.docker.distribution.manifest.v2+json"})
    try:
        urllib.request.urlopen(req, timeout=5).close()
        return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise
