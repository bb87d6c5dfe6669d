"""``mason ci fix`` of the user's pipeline, run by a real GitLab CI interpreter.

The seed's ``before.gitlab-ci.yml`` (one job, two cached executor calls) is rewritten by
``mason ci fix``; gitlab-ci-local then runs the result as GitLab would (``extends`` of the
hidden template, its ``before_script`` writing ``/kaniko/.docker/config.json`` from
``CI_REGISTRY_USER``/``CI_REGISTRY_PASSWORD``, ``/kaniko/executor`` being mason's wrapper)
against the real registry with TLS and basic auth. Both images must be pushed under both tags
and each must hold exactly what its own build wrote.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.gitlabci import make_project, run_pipeline
from tests.support.images import push_layout
from tests.support.pipelines import RegistryReader

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "tests" / "fixtures" / "seed" / "before.gitlab-ci.yml"

# Each build writes one file named by a fresh uuid in a build stage: an image holding more than
# one /out file received another build's state.
DOCKERFILE = """\
FROM {base} AS build
RUN mkdir -p /out && cat /proc/sys/kernel/random/uuid > /out/$(cat /proc/sys/kernel/random/uuid).txt
FROM {base}
COPY --from=build /out /out
"""


def test_fixed_seed_pipeline_runs_and_pushes_both_images(tmp_path, registry_tls, busybox_layout):
    base = f"{registry_tls.host}/bases/busybox:1"
    push_layout(busybox_layout, base, creds=f"{registry_tls.username}:{registry_tls.password}")
    fixed = tmp_path / "fixed.yml"
    proc = subprocess.run([sys.executable, "-m", "mason", "ci", "fix", str(SEED), "-o", str(fixed)],
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    text = fixed.read_text()
    assert "build-image-a:" in text and "build-image-b:" in text and text.count("/kaniko/executor") == 2

    project = make_project(tmp_path / "seedproj", {".gitlab-ci.yml": text,
                                                   "Dockerfile": DOCKERFILE.format(base=base)})
    run = run_pipeline(project, tmp_path / "ci", registry=registry_tls)
    assert run.returncode == 0, run.output[-6000:]
    for job in ("build-image-a", "build-image-b"):
        assert any("PASS" in line and job in line for line in run.output.splitlines()), run.output[-3000:]
    assert registry_tls.password not in run.output

    reader = RegistryReader(registry_tls, tmp_path / "read")
    sha = subprocess.run(["git", "-C", str(project), "rev-parse", "--short=8", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    base_files = set(reader.files(base))
    outs = []
    for name in ("image-a", "image-b"):
        ref = f"{registry_tls.host}/group/seedproj/{name}"
        assert reader.digest(f"{ref}:{sha}") == reader.digest(f"{ref}:latest")
        files = reader.files(f"{ref}:latest")
        written = [p for p in files if p.startswith("/out/")]
        assert len(written) == 1, f"{name}: /out holds {written}, not its own build's one file"
        assert set(files) == base_files | {"/out", written[0]}
        outs.append(written[0])
