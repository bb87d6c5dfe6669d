"""Acceptance: the Kaniko pipeline in ../shared/seed/before.gitlab-ci.yml runs unchanged on mason.

The job's ``before_script`` and ``script`` lines are read from the seed file and run, in
order, by one ``sh`` process, as a GitLab runner would run them in the job's container:

* ``/kaniko`` is a tmpfs in a private mount namespace (``unshare -m``), so the seed's
  ``mkdir -p /kaniko/.docker`` and its ``echo … | base64 … > /kaniko/.docker/config.json``
  line run verbatim and really write the credentials mason then reads
  (``DOCKER_CONFIG=/kaniko/.docker``, as mason's image sets it);
* ``/kaniko/executor`` is mason's own wrapper (``ci/image/executor``, the file mason's image
  ships), calling this checkout's mason;
* ``CI_REGISTRY*`` point at the real registry with TLS and htpasswd basic auth; its private
  CA reaches mason the way a pipeline adds one, through ``SSL_CERT_FILE`` (a GitLab "file"
  variable).

The seed builds the *same* context twice; a correct builder gives two images whose ``/out``
holds exactly the one file their own build stage wrote (a leaking builder accumulates). The
second pipeline is the seed with ``--dockerfile a.Dockerfile`` / ``b.Dockerfile`` added, so
the two images differ and "image-b holds none of image-a's files" can be checked directly.
Both run as the seed has them (``--cache=true``) and once without the cache flag.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.images import push_layout

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / ".." / "shared" / "seed" / "before.gitlab-ci.yml"
WRAPPER = REPO / "ci" / "image" / "executor"

BUILD = """\
FROM {base} AS build
RUN mkdir -p /out && echo {tag} > /out/{name}.txt && echo scratch > /build-stage-only-{tag}.txt
FROM {base}
COPY --from=build /out /out
"""


def seed_lines() -> tuple[list[str], list[str]]:
    from mason.yamlio import load_text

    if not SEED.is_file():
        pytest.fail(f"seed pipeline {SEED} is missing: the shared seed directory must sit next to the "
                    "repository checkout (../shared/seed)")
    doc = load_text(SEED.read_text(), str(SEED))
    job = doc["build-images"]
    return [str(line) for line in job["before_script"]], [str(line) for line in job["script"]]


@pytest.fixture(scope="module")
def kaniko_mount_point():
    """/kaniko must exist as a mount point; made (and removed afterwards) if this machine has none."""
    path = Path("/kaniko")
    created = not path.exists()
    if created:
        path.mkdir()
    try:
        yield path
    finally:
        if created:
            path.rmdir()


@pytest.fixture(scope="module")
def base_image(registry_tls, busybox_layout) -> str:
    ref = f"{registry_tls.host}/seed/busybox:1"
    push_layout(busybox_layout, ref, creds=f"{registry_tls.username}:{registry_tls.password}")
    return ref


def run_pipeline(tmp_path: Path, registry, script: list[str], before: list[str], project: str,
                 context: Path, kaniko: Path) -> tuple[int, str, Path]:
    """Run ``before`` + ``script`` in one sh process inside a private mount namespace."""
    shim = tmp_path / "bin" / "mason"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m mason \"$@\"\n")
    shim.chmod(0o755)
    job = tmp_path / "job.sh"
    job.write_text("\n".join(before + script) + "\n")
    saved = tmp_path / "config.json"
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = {
        "PATH": f"{shim.parent}:{os.environ['PATH']}", "HOME": str(tmp_path), "TMPDIR": str(tmp_path / "tmp"),
        "CI": "true", "GITLAB_CI": "true", "PYTHONPATH": str(REPO / "src"), "MASON_BIN": str(shim),
        "DOCKER_CONFIG": f"{kaniko}/.docker", "SSL_CERT_FILE": registry.ca_file,
        "CI_REGISTRY": registry.host, "CI_REGISTRY_USER": registry.username,
        "CI_REGISTRY_PASSWORD": registry.password, "CI_REGISTRY_IMAGE": f"{registry.host}/group/{project}",
        "CI_COMMIT_SHORT_SHA": "1a2b3c4d", "CI_PROJECT_DIR": str(context),
    }
    namespace = (f"mount -t tmpfs -o mode=0755 mason-test-kaniko {kaniko} && "
                 f"cp {WRAPPER} {kaniko}/executor && chmod 0755 {kaniko}/executor && "
                 'sh -e "$1"; rc=$?; cp /kaniko/.docker/config.json "$2" 2>/dev/null; exit $rc')
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", namespace, "sh",
                           str(job), str(saved)], env=env, cwd=context,   # a job starts in CI_PROJECT_DIR
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr, saved


class Registry:
    """skopeo + umoci against the TLS registry: independent readers of what mason pushed."""

    def __init__(self, server, tmp_path: Path):
        self.server = server
        self.certs = tmp_path / "certs"
        self.certs.mkdir(exist_ok=True)
        shutil.copy(server.ca_file, self.certs / "ca.crt")
        self.tmp = tmp_path

    def _auth(self) -> list[str]:
        return [f"--creds={self.server.username}:{self.server.password}", f"--cert-dir={self.certs}"]

    def digest(self, ref: str) -> str:
        return subprocess.run(["skopeo", "inspect", "--format", "{{.Digest}}", *self._auth(), f"docker://{ref}"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def files(self, ref: str) -> dict[str, str]:
        """Every path in the image's filesystem -> file content ('' for directories and links)."""
        dest = self.tmp / ref.replace("/", "_").replace(":", "_")
        if (dest / "bundle").is_dir():
            shutil.rmtree(dest)
        dest.mkdir()
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", f"--src-creds={self.server.username}:{self.server.password}",
                        f"--src-cert-dir={self.certs}", f"docker://{ref}", f"oci:{dest}/layout:x"],
                       check=True, capture_output=True)
        subprocess.run(["umoci", "unpack", "--image", f"{dest}/layout:x", str(dest / "bundle")], check=True,
                       capture_output=True)
        root = dest / "bundle" / "rootfs"
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                rel = "/" + str(p.relative_to(root))
                out[rel] = p.read_text() if p.is_file() and not p.is_symlink() and rel.startswith("/out/") else ""
        return out


def _assert_ok(code: int, output: str) -> None:
    assert code == 0, output


def _context(tmp_path: Path, base: str) -> Path:
    ctx = tmp_path / "project"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(BUILD.format(base=base, tag="$(cat /proc/sys/kernel/random/uuid)",
                                                 name="$(cat /proc/sys/kernel/random/uuid)"))
    (ctx / "a.Dockerfile").write_text(BUILD.format(base=base, tag="a", name="image-a"))
    (ctx / "b.Dockerfile").write_text(BUILD.format(base=base, tag="b", name="image-b"))
    return ctx


def _script(lines: list[str], cache: str) -> list[str]:
    return lines if cache == "seed" else [line.replace(" --cache=true", "") for line in lines]


@pytest.fixture(params=["seed", "without-cache-flag"])
def cache(request) -> str:
    return request.param


def test_seed_pipeline_verbatim(tmp_path, registry_tls, base_image, kaniko_mount_point, busybox_layout, cache):
    before, script = seed_lines()
    assert sum("/kaniko/executor" in line and "--cache=true" in line for line in script) == 2  # the trap's shape
    ctx = _context(tmp_path, base_image)
    project = f"verbatim-{cache}"
    code, output, config = run_pipeline(tmp_path, registry_tls, _script(script, cache), before, project, ctx,
                                        kaniko_mount_point)
    _assert_ok(code, output)
    reg = Registry(registry_tls, tmp_path)
    image = f"{registry_tls.host}/group/{project}"
    # the config.json written by the seed's echo line holds the job's credentials
    import base64
    import json

    auths = json.loads(config.read_text())["auths"]
    assert base64.b64decode(auths[registry_tls.host]["auth"]).decode() == \
        f"{registry_tls.username}:{registry_tls.password}"
    assert registry_tls.password not in output
    base_files = set(reg.files(base_image))
    for name in ("image-a", "image-b"):
        assert reg.digest(f"{image}/{name}:1a2b3c4d") == reg.digest(f"{image}/{name}:latest")
        files = reg.files(f"{image}/{name}:latest")
        written = [p for p in files if p.startswith("/out/")]
        assert len(written) == 1, f"{name}: /out should hold its own build's one file, got {written}"
        assert set(files) == base_files | {"/out", written[0]}, f"{name} holds files it did not build"
    if cache != "seed":   # without the cache the second build ran its own RUN: a different file
        a = [p for p in reg.files(f"{image}/image-a:latest") if p.startswith("/out/")]
        b = [p for p in reg.files(f"{image}/image-b:latest") if p.startswith("/out/")]
        assert a != b


def test_seed_pipeline_two_dockerfiles_image_b_holds_nothing_of_image_a(
        tmp_path, registry_tls, base_image, kaniko_mount_point, cache):
    before, script = seed_lines()
    assert len(script) == 2
    variant = [script[0].replace("--cache=true", '--cache=true --dockerfile "${CI_PROJECT_DIR}/a.Dockerfile"'),
               script[1].replace("--cache=true", '--cache=true --dockerfile "${CI_PROJECT_DIR}/b.Dockerfile"')]
    assert variant != script
    ctx = _context(tmp_path, base_image)
    project = f"twofiles-{cache}"
    code, output, _ = run_pipeline(tmp_path, registry_tls, _script(variant, cache), before, project, ctx,
                                   kaniko_mount_point)
    _assert_ok(code, output)
    reg = Registry(registry_tls, tmp_path)
    image = f"{registry_tls.host}/group/{project}"
    base_files = set(reg.files(base_image))
    a = reg.files(f"{image}/image-a:latest")
    b = reg.files(f"{image}/image-b:{'1a2b3c4d'}")
    assert a["/out/image-a.txt"] == "a\n" and b["/out/image-b.txt"] == "b\n"
    assert set(a) - base_files == {"/out", "/out/image-a.txt"}
    assert set(b) - base_files == {"/out", "/out/image-b.txt"}     # none of image-a's files
    assert not any("image-a" in p or "build-stage-only" in p for p in b)
