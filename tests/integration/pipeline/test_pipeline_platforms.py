"""A two-platform image built by the fan-out form, run by gitlab-ci-local.

``platforms: [linux/amd64, linux/arm64]`` in the bake file: ``mason ci generate`` writes one job
per platform (``--custom-platform``, a per-platform tag) and an index job (``mason manifest
create``) that keeps the image's job name, so images built on it wait for the index. The base
image in the registry is itself a two-platform index, and ``app`` builds ``FROM`` ``base``: each
platform's build must resolve its own platform's base. No RUN, so no emulator is needed: the
per-platform jobs here stand for jobs on native runners.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mason.yamlio import load_text
from tests.support.gitlabci import make_project, run_pipeline
from tests.support.images import push_layout
from tests.support.pipelines import RegistryReader

REPO = Path(__file__).resolve().parents[3]

BAKE = """\
version: 1
defaults:
  platforms: [linux/amd64, linux/arm64]
images:
  app:
    context: app
    build_args: {BASE: "${CI_REGISTRY_IMAGE}/base:${CI_COMMIT_SHORT_SHA}"}
    destinations: ["${CI_REGISTRY_IMAGE}/app:${CI_COMMIT_SHORT_SHA}", "${CI_REGISTRY_IMAGE}/app:latest"]
  base:
    context: base
    destinations: ["${CI_REGISTRY_IMAGE}/base:${CI_COMMIT_SHORT_SHA}"]
"""


def test_two_platform_images_through_per_platform_jobs_and_an_index_job(tmp_path, registry_tls, multiplatform_layout):
    creds = f"{registry_tls.username}:{registry_tls.password}"
    busybox = f"{registry_tls.host}/bases/busybox-multi:1"
    push_layout(multiplatform_layout, busybox, creds=creds, all_platforms=True)
    files = {"mason.bake.yml": BAKE,
             "base/Dockerfile": f"FROM {busybox}\nCOPY base.txt /base.txt\n", "base/base.txt": "base\n",
             "app/Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY app.txt /app.txt\n", "app/app.txt": "app\n"}
    project = make_project(tmp_path / "multi", files)
    proc = subprocess.run([sys.executable, "-m", "mason", "ci", "generate", "mason.bake.yml", "-o", ".gitlab-ci.yml"],
                          cwd=project, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    data = load_text((project / ".gitlab-ci.yml").read_text(), "child")
    assert list(data["stages"]) == ["build-1", "index-1", "build-2", "index-2"]
    assert list(data["build-app-arm64"]["needs"]) == ["build-base"]
    assert list(data["build-base"]["needs"]) == ["build-base-amd64", "build-base-arm64"]
    subprocess.run(["git", "-C", str(project), "add", ".gitlab-ci.yml"], check=True)
    subprocess.run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm",
                    "pipeline"], check=True)

    run = run_pipeline(project, tmp_path / "ci", registry=registry_tls)
    assert run.returncode == 0, run.output[-8000:]
    sha = subprocess.run(["git", "-C", str(project), "rev-parse", "--short=8", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    image = f"{registry_tls.host}/group/multi"
    reader = RegistryReader(registry_tls, tmp_path / "read")
    for name, tags in (("base", [sha]), ("app", [sha, "latest"])):
        for tag in tags:
            index = json.loads(reader.raw(f"{image}/{name}:{tag}"))
            assert index["mediaType"] == "application/vnd.oci.image.index.v1+json", index
            assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    busybox_index = json.loads(reader.raw(busybox))
    for arch in ("amd64", "arm64"):
        ref = f"{image}/app:{sha}-{arch}"
        config = json.loads(subprocess.run(
            ["skopeo", "inspect", "--config", f"--creds={creds}", f"--cert-dir={reader.certs}", f"docker://{ref}"],
            check=True, capture_output=True, text=True).stdout)
        assert config["architecture"] == arch and config["os"] == "linux"
        manifest = json.loads(reader.raw(ref))
        base_manifest = json.loads(reader.raw(f"{image}/base:{sha}-{arch}"))
        assert [l["digest"] for l in manifest["layers"][:-1]] == [l["digest"] for l in base_manifest["layers"]]
        busybox_child = next(m for m in busybox_index["manifests"] if m["platform"]["architecture"] == arch)
        busybox_manifest = json.loads(reader.raw(f"{busybox.rsplit(':', 1)[0]}@{busybox_child['digest']}"))
        assert [l["digest"] for l in base_manifest["layers"][:-1]] == [l["digest"] for l in busybox_manifest["layers"]]
        files = reader.files(ref, read_under="/")
        assert files["/app.txt"] == "app\n" and files["/base.txt"] == "base\n"
    app_index = json.loads(reader.raw(f"{image}/app:{sha}"))
    assert {m["platform"]["architecture"]: m["digest"] for m in app_index["manifests"]} == {
        arch: "sha256:" + __import__("hashlib").sha256(reader.raw(f"{image}/app:{sha}-{arch}").encode()).hexdigest()
        for arch in ("amd64", "arm64")}
