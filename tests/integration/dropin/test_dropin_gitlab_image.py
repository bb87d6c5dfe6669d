"""Acceptance: a team's Kaniko pipelines pass with mason's image as the job's ``image:``.

The two pipelines in ``tests/fixtures/seed/`` are the user's, copied unchanged: ``before.gitlab-ci.yml``
(one job, two ``/kaniko/executor --cache=true`` calls: Kaniko's trap, image-b picks up
image-a's files) and ``after.gitlab-ci.yml`` (the workaround: a ``.build-image`` template
extended by one job per image). Each job's ``before_script`` and ``script`` lines run
verbatim, in a fresh container of mason's own ``debug`` image (built by mason in this test
session, unpacked by umoci), the way GitLab's Docker runner runs them
(tests/support/gitlabjob.py): project at ``/builds/group/<project>``, ``CI_REGISTRY*`` set,
root with Docker's default capabilities and seccomp. The registry is the real one, with
htpasswd basic auth over TLS signed by a private CA, which the job adds with GitLab's
documented recipe, put first in ``before_script``:

    cat "$CI_SERVER_TLS_CA_FILE" >> /kaniko/ssl/certs/additional-ca-cert-bundle.crt

The project's Dockerfile is multi-stage: its build stage writes one file with a fresh random
name into ``/out``, the final stage copies ``/out``. So image-b must hold exactly one such
file, not image-a's (a leaking builder accumulates them). The base image (busybox, made by
the tests) is in the same registry: no internet. Each pipeline runs twice; the second run's
builds all hit the cache that the first pushed (``--cache=true``): their images hold the
first run's RUN layer again (the same random file name).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.gitlabjob import load_jobs, remove, run_job
from tests.support.images import push_layout

pytestmark = pytest.mark.integration

PIPELINES = Path(__file__).resolve().parents[2] / "fixtures" / "seed"
CA_RECIPE = 'cat "$CI_SERVER_TLS_CA_FILE" >> /kaniko/ssl/certs/additional-ca-cert-bundle.crt'
DOCKERFILE = """\
FROM {base} AS build
RUN mkdir -p /out && echo built > "$(mktemp /out/built-XXXXXXXXXX)" && echo x > /build-stage-only.txt
FROM {base}
COPY --from=build /out /out
"""


class Registry:
    """skopeo + umoci against the TLS registry: independent readers of what mason pushed."""

    def __init__(self, server, workdir: Path):
        self.server = server
        self.certs = workdir / "certs"
        self.certs.mkdir(exist_ok=True)
        shutil.copy(server.ca_file, self.certs / "ca.crt")
        self.workdir = workdir

    def _auth(self) -> list[str]:
        return [f"--creds={self.server.username}:{self.server.password}", f"--cert-dir={self.certs}"]

    def digest(self, ref: str) -> str:
        return subprocess.run(["skopeo", "inspect", "--format", "{{.Digest}}", *self._auth(), f"docker://{ref}"],
                              check=True, capture_output=True, text=True).stdout.strip()

    def files(self, ref: str) -> set[str]:
        """Every path in the image's filesystem."""
        dest = self.workdir / ref.replace("/", "_").replace(":", "_")
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet",
                        f"--src-creds={self.server.username}:{self.server.password}", f"--src-cert-dir={self.certs}",
                        f"docker://{ref}", f"oci:{dest}/layout:x"], check=True, capture_output=True)
        subprocess.run(["umoci", "unpack", "--image", f"{dest}/layout:x", str(dest / "bundle")], check=True,
                       capture_output=True)
        root = dest / "bundle" / "rootfs"
        return {"/" + str(Path(d, n).relative_to(root)) for d, dirs, files in os.walk(root) for n in dirs + files}


@pytest.fixture(scope="module")
def debug_image(mason_image, tmp_path_factory):
    bundle = mason_image("debug").unpack(tmp_path_factory.mktemp("debug-image") / "bundle")
    return bundle.rootfs, bundle.env()


@pytest.fixture(scope="module")
def base_image(registry_tls, busybox_layout) -> str:
    ref = f"{registry_tls.host}/group/busybox:1"
    push_layout(busybox_layout, ref, creds=f"{registry_tls.username}:{registry_tls.password}")
    return ref


def _run_pipeline(pipeline: str, run: str, *, tmp_path: Path, registry_tls, debug_image, project: str,
                  project_dir: Path) -> dict[str, str]:
    rootfs, env = debug_image
    jobs = load_jobs(PIPELINES / pipeline)
    variables = {"CI_REGISTRY": registry_tls.host, "CI_REGISTRY_USER": registry_tls.username,
                 "CI_REGISTRY_PASSWORD": registry_tls.password,
                 "CI_REGISTRY_IMAGE": f"{registry_tls.host}/group/{project}", "CI_COMMIT_SHORT_SHA": "1a2b3c4d"}
    ca = Path(registry_tls.ca_file).read_bytes()
    outputs = {}
    for name, job in jobs.items():
        assert job["image"] == {"name": "gcr.io/kaniko-project/executor:debug", "entrypoint": [""]}
        workdir = tmp_path / f"{run}-{name}"
        workdir.mkdir()
        result = run_job(name, job, image_rootfs=rootfs, image_env=env, workdir=workdir, project_dir=project_dir,
                         group="group", project=project, variables=variables,
                         file_variables={"CI_SERVER_TLS_CA_FILE": ca},
                         before_script=[CA_RECIPE, *job["before_script"]])
        assert result.returncode == 0, f"job {name} ({run}) failed:\n{result.output}"
        # the seed's echo line wrote the job's credentials where mason reads them
        config = json.loads((result.root / "kaniko/.docker/config.json").read_text())
        auth = base64.b64decode(config["auths"][registry_tls.host]["auth"]).decode()
        assert auth == f"{registry_tls.username}:{registry_tls.password}"
        assert registry_tls.password not in result.output
        outputs[name] = result.output
        remove(result)
    return outputs


@pytest.mark.parametrize("pipeline", ["before.gitlab-ci.yml", "after.gitlab-ci.yml"])
def test_kaniko_pipeline_runs_unchanged_on_masons_image(pipeline, tmp_path, registry_tls, base_image, debug_image):
    project = pipeline.split(".")[0]
    project_dir = tmp_path / "checkout"
    project_dir.mkdir()
    (project_dir / "Dockerfile").write_text(DOCKERFILE.format(base=base_image))
    registry = Registry(registry_tls, tmp_path)
    image = f"{registry_tls.host}/group/{project}"
    base_files = registry.files(base_image)

    first = _run_pipeline(pipeline, "first", tmp_path=tmp_path, registry_tls=registry_tls, debug_image=debug_image,
                          project=project, project_dir=project_dir)
    log = "\n".join(first.values())
    assert log.count("Built image sha256:") == 2 and "isolation: chroot" in log
    written = {}
    for name in ("image-a", "image-b"):
        assert registry.digest(f"{image}/{name}:1a2b3c4d") == registry.digest(f"{image}/{name}:latest")
        files = registry.files(f"{image}/{name}:latest")
        written[name] = sorted(p for p in files if p.startswith("/out/"))
        assert len(written[name]) == 1, f"{name}: /out must hold its own build's one file, got {written[name]}"
        assert files == base_files | {"/out", *written[name]}, f"{name} holds files it did not build"
    assert written["image-a"] != written["image-b"]         # image-b holds nothing of image-a

    second = _run_pipeline(pipeline, "second", tmp_path=tmp_path, registry_tls=registry_tls,
                           debug_image=debug_image, project=project, project_dir=project_dir)
    for output in second.values():
        steps = [line for line in output.splitlines() if "RUN mkdir -p /out" in line and "  hit  " in line]
        assert steps, f"the second run's RUN did not hit the cache:\n{output}"
    for name in ("image-a", "image-b"):      # rebuilt from the cache: the first run's RUN layer again
        assert sorted(p for p in registry.files(f"{image}/{name}:latest") if p.startswith("/out/")) == written[name]
