"""``mason manifest create`` against the real registry, read back with skopeo.

Per-platform images are pushed the way fan-out CI jobs push them: each to its own repository
and tag. The index must list both under one tag, with the sources' own manifest digests, and
be complete in the destination repository (every child manifest and blob there), which
``skopeo copy --all`` checks by copying it whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.images import push_layout

REPO = Path(__file__).resolve().parents[3]


def mason(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "mason", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def skopeo(*argv: str) -> str:
    return subprocess.run(["skopeo", *argv], check=True, capture_output=True, text=True).stdout


def test_index_from_images_in_two_repositories(tmp_path, registry_plain, multiplatform_layout):
    reg = registry_plain.host
    push_layout(multiplatform_layout, f"{reg}/fan/app-amd64:1", tag="amd64")
    push_layout(multiplatform_layout, f"{reg}/elsewhere/app-arm64:1", tag="arm64")
    digests = {arch: skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{ref}")
               for arch, ref in (("amd64", f"{reg}/fan/app-amd64:1"), ("arm64", f"{reg}/elsewhere/app-arm64:1"))}
    proc = mason("manifest", "create", f"{reg}/fan/app:1", f"{reg}/fan/app-amd64:1", f"{reg}/elsewhere/app-arm64:1",
                 "--insecure-registry", reg, "--annotation", "org.opencontainers.image.title=app", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "linux/amd64, linux/arm64" in proc.stdout
    raw = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{reg}/fan/app:1"))
    assert raw["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert raw["annotations"] == {"org.opencontainers.image.title": "app"}
    import hashlib

    listed = {m["platform"]["architecture"]: m for m in raw["manifests"]}
    assert sorted(listed) == ["amd64", "arm64"]
    for arch, manifest in digests.items():
        assert listed[arch]["digest"] == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    assert listed["arm64"]["platform"].get("variant") in (None, "v8")
    arm = json.loads(skopeo("inspect", "--tls-verify=false", "--override-arch", "arm64", f"docker://{reg}/fan/app:1"))
    assert arm["Architecture"] == "arm64"
    # complete in the destination repository: every child and blob can be copied from there
    skopeo("--insecure-policy", "copy", "--all", "--src-tls-verify=false", f"docker://{reg}/fan/app:1",
           f"oci:{tmp_path / 'copy'}:x")
    index = json.loads((tmp_path / "copy" / "index.json").read_text())
    assert len(index["manifests"]) == 1


def test_two_sources_for_one_platform_are_refused_and_nothing_is_pushed(tmp_path, registry_plain,
                                                                       multiplatform_layout):
    reg = registry_plain.host
    push_layout(multiplatform_layout, f"{reg}/dup/a:1", tag="amd64")
    push_layout(multiplatform_layout, f"{reg}/dup/all:1", tag="latest", all_platforms=True)   # amd64 + arm64
    proc = mason("manifest", "create", f"{reg}/dup/app:1", f"{reg}/dup/all:1", f"{reg}/dup/a:1",
                 "--insecure-registry", reg, cwd=tmp_path)
    assert proc.returncode != 0
    assert f"{reg}/dup/a:1 and {reg}/dup/all:1 both provide linux/amd64" in proc.stderr
    missing = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{reg}/dup/app:1"],
                             capture_output=True, text=True)
    assert missing.returncode != 0
    # an index source's entries are taken as they are
    ok = mason("manifest", "create", f"{reg}/dup/app:2", f"{reg}/dup/all:1", "--insecure-registry", reg, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    raw = json.loads(skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{reg}/dup/app:2"))
    assert sorted(m["platform"]["architecture"] for m in raw["manifests"]) == ["amd64", "arm64"]


def test_bad_destination_and_annotation_are_usage_errors(tmp_path):
    proc = mason("manifest", "create", "docker-archive:/tmp/x.tar", "oci:/nonexistent:x", cwd=tmp_path)
    assert proc.returncode == 2 and "registry or an OCI layout only" in proc.stderr
    proc = mason("manifest", "create", "oci:/tmp/y:x", "oci:/nonexistent:x", "--annotation", "novalue", cwd=tmp_path)
    assert proc.returncode == 2 and "--annotation 'novalue': expected KEY=VALUE" in proc.stderr
