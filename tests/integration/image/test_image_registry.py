"""Acceptance: ``mason copy`` round-trips the fixture images
registry -> OCI layout -> docker-archive -> registry on all three registry variants, the final
manifest digest equals the original, and skopeo/umoci accept every output mason wrote.

Needs the registry fixtures (``any_registry``, ``registry_plain``, ``busybox_layout``,
``multiplatform_layout``) from tests/conftest.py and tests/support/ (registry branch).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from umocifixtures import run, skopeo_inspect, umoci_stat, umoci_unpack
from tests.support.images import push_layout

pytestmark = pytest.mark.integration


def registry_flags(server) -> list[str]:
    if server.scheme == "http":
        return ["--insecure-registry", server.host]
    return ["--registry-certificate", f"{server.host}={server.ca_file}"]


def mason(server, tmp_path, *args, check=True):
    env = dict(os.environ)
    env["DOCKER_CONFIG"] = server.docker_config(str(tmp_path / "docker-config"))
    proc = subprocess.run([sys.executable, "-m", "mason", *map(str, args), *registry_flags(server)],
                          capture_output=True, text=True, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def creds(server) -> str | None:
    return f"{server.username}:{server.password}" if server.username else None


def skopeo_registry(server, ref: str, raw: bool = False) -> dict:
    cmd = ["skopeo", "inspect", "--tls-verify=false"] + (["--raw"] if raw else [])
    if server.username:
        cmd += ["--creds", creds(server)]
    import json

    return json.loads(run(*cmd, f"docker://{ref}"))


def test_round_trip_registry_layout_archive_registry(any_registry, busybox_layout, tmp_path):
    server = any_registry
    src = f"{server.host}/fixtures/busybox:orig"
    push_layout(busybox_layout, src, creds=creds(server))
    original = skopeo_registry(server, src)["Digest"]

    layout, archive = tmp_path / "layout", tmp_path / "bb.tar"
    mason(server, tmp_path, "copy", "--validate", src, f"oci:{layout}:pulled")
    assert skopeo_inspect(f"oci:{layout}:pulled")["Digest"] == original
    umoci_stat(layout, "pulled")
    umoci_unpack(layout, "pulled", tmp_path / "bundle")

    mason(server, tmp_path, "copy", f"oci:{layout}:pulled", f"docker-archive:{archive}:fixtures/busybox:rt")
    assert skopeo_inspect(f"docker-archive:{archive}")["Architecture"] == "amd64"

    dest = f"{server.host}/roundtrip/busybox:final"
    mason(server, tmp_path, "copy", "--validate", f"docker-archive:{archive}:fixtures/busybox:rt", dest)
    assert skopeo_registry(server, dest)["Digest"] == original
    # and skopeo can pull what mason pushed into a layout umoci unpacks
    cmd = ["skopeo", "--insecure-policy", "copy", "-q", "--src-tls-verify=false"]
    if server.username:
        cmd += ["--src-creds", creds(server)]
    run(*cmd, f"docker://{dest}", f"oci:{tmp_path / 'sk'}:x")
    umoci_unpack(tmp_path / "sk", "x", tmp_path / "bundle2")


def test_registry_to_registry_index_keeps_digest_and_mounts(registry_plain, multiplatform_layout, tmp_path):
    server = registry_plain
    src = f"{server.host}/fixtures/multi:latest"
    push_layout(multiplatform_layout, src, all_platforms=True)
    original = skopeo_registry(server, src, raw=True)
    out = mason(server, tmp_path, "copy", "--validate", src, f"{server.host}/copies/multi:v1")
    copied = skopeo_registry(server, f"{server.host}/copies/multi:v1", raw=True)
    assert copied == original and len(copied["manifests"]) == 2
    assert "copied" in out.stdout
    # one platform only
    mason(server, tmp_path, "copy", "--platform", "linux/arm64", src, f"{server.host}/copies/arm:v1")
    arm = skopeo_registry(server, f"{server.host}/copies/arm:v1")
    assert arm["Architecture"] == "arm64"
    # inspect over the registry lists both platforms
    text = mason(server, tmp_path, "inspect", src).stdout
    assert "linux/amd64" in text and "linux/arm64" in text


def test_second_push_skips_existing_blobs(registry_plain, busybox_layout, tmp_path):
    server = registry_plain
    dest = f"{server.host}/skip/busybox"
    first = mason(server, tmp_path, "copy", f"oci:{busybox_layout}:latest", f"{dest}:a").stdout
    second = mason(server, tmp_path, "copy", f"oci:{busybox_layout}:latest", f"{dest}:b").stdout
    assert "0 already present" in first and "0 blobs copied" in second


def test_corrupted_blob_in_registry_is_refused(registry_factory, busybox_layout, tmp_path):
    """A blob whose stored bytes no longer match its digest (served as such) is refused.

    A registry of its own: the corrupted blob is content-addressed, so in a shared registry it
    would poison every other test that pushes the same busybox layer.
    """
    server = registry_factory("plain")
    ref = f"{server.host}/corrupt/busybox:latest"
    push_layout(busybox_layout, ref)
    layer = skopeo_registry(server, ref, raw=True)["layers"][0]["digest"]
    data_path = os.path.join(server.storage, "docker", "registry", "v2", "blobs", "sha256", layer[7:9],
                             layer[7:], "data")
    with open(data_path, "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    proc = mason(server, tmp_path, "copy", ref, f"oci:{tmp_path / 'o'}:x", check=False)
    assert proc.returncode != 0 and layer in proc.stderr
    assert not (tmp_path / "o" / "blobs" / "sha256" / layer[7:]).exists()


def _big_layout(root, size: int):
    """A layout with one uncompressed layer holding a ``size``-byte file of zeros (made with
    tarfile/hashlib, streamed to disk)."""
    import hashlib
    import json
    import tarfile

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    tar_path = root / "layer.tar"

    class Zeros:
        def __init__(self, n):
            self.left = n

        def read(self, n=-1):
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return bytes(n)

    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        tar.addfile(info, Zeros(size))
    h = hashlib.sha256()
    with open(tar_path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h.hexdigest(),
             "size": tar_path.stat().st_size}
    tar_path.rename(blobs / h.hexdigest())

    def blob(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": "sha256:" + digest, "size": len(data)}

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config)},
                           "layers": [layer]}).encode()
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **blob(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "big"}}]}))
    return layer


def _peak_rss_mb(server, tmp_path, *args) -> float:
    """Run ``mason ARGS`` in a fresh interpreter and return its peak RSS in MiB."""
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a vfork'ed child would
    # report at least pytest's own resident size.
    code = ("import sys\nfrom mason.cli.main import main\nrc = main(sys.argv[1:])\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
            "print('PEAK', hwm, file=sys.stderr)\nsys.exit(rc)")
    env = dict(os.environ)
    env["DOCKER_CONFIG"] = server.docker_config(str(tmp_path / "docker-config"))
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args), *registry_flags(server)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.rsplit("PEAK", 1)[1].split()[0]) / 1024


def test_copying_a_500mb_layer_keeps_memory_bounded(registry_plain, tmp_path):
    server = registry_plain
    layer = _big_layout(tmp_path / "big", 500 << 20)
    ref = f"{server.host}/big/image:v1"
    push_peak = _peak_rss_mb(server, tmp_path, "copy", f"oci:{tmp_path / 'big'}:big", ref)
    pull_peak = _peak_rss_mb(server, tmp_path, "copy", ref, f"oci:{tmp_path / 'pulled'}:big")
    assert (tmp_path / "pulled" / "blobs" / "sha256" / layer["digest"][7:]).stat().st_size == layer["size"]
    assert push_peak < 150 and pull_peak < 150, (push_peak, pull_peak)
