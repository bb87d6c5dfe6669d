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


LOOP_PIPELINE = """\
stages: [build, verify]

.kaniko:
  image:
    name: gcr.io/kaniko-project/executor:debug
    entrypoint: [""]
  before_script:
    - mkdir -p /kaniko/.docker
    - echo "{\\"auths\\":{\\"${CI_REGISTRY}\\":{\\"auth\\":\\"$(printf "%s:%s" "${CI_REGISTRY_USER}" "${CI_REGISTRY_PASSWORD}" | base64 | tr -d '\\n')\\"}}}" > /kaniko/.docker/config.json

build-all:
  extends: .kaniko
  stage: build
  script:
    # one image per service
    - for svc in api web; do /kaniko/executor --cache=true --context "${CI_PROJECT_DIR}/$svc" --destination "${CI_REGISTRY_IMAGE}/$svc:${CI_COMMIT_SHORT_SHA}"; done
    - echo "both images pushed"; date   # after every build

verify:
  stage: verify
  needs: [build-all]
  script:
    - echo verified
"""


def test_fixed_loop_pipeline_runs_in_order(tmp_path, registry_tls, busybox_layout):
    """A loop over a literal list, a command after the builds and a job that needs the split one:
    the fixed pipeline runs the builds in parallel, then the final job, then the needer."""
    from mason.ci.fixer import fix_file

    base = f"{registry_tls.host}/bases/busybox:1"
    push_layout(busybox_layout, base, creds=f"{registry_tls.username}:{registry_tls.password}")
    (tmp_path / "in.yml").write_text(LOOP_PIPELINE)
    result = fix_file(tmp_path / "in.yml")
    assert result.fixed == {"build-all": [".build-image", "build-api", "build-web", "build-all"]}, result.refused
    files = {".gitlab-ci.yml": result.text}
    for svc in ("api", "web"):
        files[f"{svc}/Dockerfile"] = f"FROM {base}\nRUN echo {svc} > /{svc}.txt\n"
    project = make_project(tmp_path / "loopproj", files)
    run = run_pipeline(project, tmp_path / "ci", registry=registry_tls)
    assert run.returncode == 0, run.output[-6000:]
    events = [" ".join(line.split()[:2]) for line in run.output.splitlines()
              if len(line.split()) >= 2 and line.split()[1] in ("starting", "finished")]
    final = events.index("build-all starting")
    assert events.index("build-api finished") < final and events.index("build-web finished") < final
    assert events.index("build-all finished") < events.index("verify starting")
    assert any("both images pushed" in line for line in run.job_log("build-all"))
    sha = subprocess.run(["git", "-C", str(project), "rev-parse", "--short=8", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    reader = RegistryReader(registry_tls, tmp_path / "read")
    base_files = set(reader.files(base))
    for svc in ("api", "web"):
        files = reader.files(f"{registry_tls.host}/group/loopproj/{svc}:{sha}", read_under="/")
        assert set(files) - base_files == {f"/{svc}.txt"} and files[f"/{svc}.txt"] == f"{svc}\n"
