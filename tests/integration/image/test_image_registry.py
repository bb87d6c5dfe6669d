"""Acceptance (issue 2): ``mason copy`` round-trips the fixture images
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


def test_corrupted_blob_in_registry_is_refused(registry_plain, busybox_layout, tmp_path):
    """A blob whose stored bytes no longer match its digest (served as such) is refused."""
    server = registry_plain
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
