"""``mason ci generate`` output run by a real GitLab CI interpreter (gitlab-ci-local).

Five images in two dependency chains, none of them declared with ``depends_on``: the
dependencies exist only in the Dockerfiles, and every reference is written with CI
variables, so ``mason ci generate`` must infer them symbolically:

    base -> api -> app      (FROM ${BASE}; FROM ${CI_REGISTRY_IMAGE}/api:${CI_COMMIT_SHORT_SHA})
    tools -> cli            (FROM $TOOLS AS tools ... COPY --from=tools)

With a wrong order a job's FROM names an image not pushed yet and its build fails
(MANIFEST_UNKNOWN), so a green pipeline plus the images' contents prove the order. A second
run of the same pipeline must find every RUN layer in the registry cache the first run filled
and, the images being reproducible (no timestamps), push the very same digests: a rebuilt
base keeps its digest, so the images built on it hit the cache too.
"""

from __future__ import annotations

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
  cache: true
  cache_repo: "${CI_REGISTRY_IMAGE}/cache"
  reproducible: true
images:
  app:
    context: app
    destinations: ["${CI_REGISTRY_IMAGE}/app:${CI_COMMIT_SHORT_SHA}"]
    build_args: {CI_REGISTRY_IMAGE: "${CI_REGISTRY_IMAGE}", CI_COMMIT_SHORT_SHA: "${CI_COMMIT_SHORT_SHA}"}
  cli:
    context: cli
    destinations: ["${CI_REGISTRY_IMAGE}/cli:${CI_COMMIT_SHORT_SHA}"]
    build_args: {TOOLS: "$CI_REGISTRY_IMAGE/tools:$CI_COMMIT_SHORT_SHA"}
  api:
    context: api
    destinations: ["${CI_REGISTRY_IMAGE}/api:${CI_COMMIT_SHORT_SHA}", "${CI_REGISTRY_IMAGE}/api:latest"]
    build_args: {BASE: "${CI_REGISTRY_IMAGE}/base:${CI_COMMIT_SHORT_SHA}"}
  tools:
    context: tools
    destinations: ["${CI_REGISTRY_IMAGE}/tools:${CI_COMMIT_SHORT_SHA}"]
  base:
    context: base
    destinations: ["${CI_REGISTRY_IMAGE}/base:${CI_COMMIT_SHORT_SHA}"]
"""

DOCKERFILES = {
    "base/Dockerfile": "FROM {busybox}\nRUN echo base > /base.txt\n",
    "api/Dockerfile": "ARG BASE\nFROM ${{BASE}}\nRUN cat /base.txt > /api.txt && echo api >> /api.txt\n",
    "app/Dockerfile": ("ARG CI_REGISTRY_IMAGE\nARG CI_COMMIT_SHORT_SHA\n"
                       "FROM ${{CI_REGISTRY_IMAGE}}/api:${{CI_COMMIT_SHORT_SHA}}\n"
                       "RUN cat /api.txt > /app.txt && echo app >> /app.txt\n"),
    "tools/Dockerfile": "FROM {busybox}\nRUN echo tools > /tools.txt\n",
    "cli/Dockerfile": ("ARG TOOLS\nFROM $TOOLS AS tools\nFROM {busybox}\n"
                       "COPY --from=tools /tools.txt /cli-tools.txt\nRUN echo cli > /cli.txt\n"),
}


def _generate(project: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "mason", "ci", "generate", "mason.bake.yml", "-o",
                           ".gitlab-ci.yml", "--mason-image", "mason:under-test"], cwd=project,
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return (project / ".gitlab-ci.yml").read_text()


def _order(output: str) -> list[str]:
    """gitlab-ci-local's job events in the order it printed them: 'build-x starting' / 'build-x finished'."""
    events = []
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].startswith("build-") and words[1] in ("starting", "finished"):
            events.append(f"{words[0]} {words[1]}")
    return events


def test_generated_pipeline_builds_five_images_in_dependency_order(tmp_path, registry_tls, busybox_layout):
    busybox = f"{registry_tls.host}/bases/busybox:1"
    push_layout(busybox_layout, busybox, creds=f"{registry_tls.username}:{registry_tls.password}")
    files = {"mason.bake.yml": BAKE, **{k: v.format(busybox=busybox) for k, v in DOCKERFILES.items()}}
    project = make_project(tmp_path / "fiveimages", files)
    text = _generate(project)
    subprocess.run(["git", "-C", str(project), "add", ".gitlab-ci.yml"], check=True)
    subprocess.run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit",
                    "-qm", "pipeline"], check=True)

    data = load_text(text, "child")
    needs = {name: list(data[name]["needs"]) for name in data if name.startswith("build-")}
    assert needs == {"build-base": [], "build-tools": [], "build-api": ["build-base"],
                     "build-cli": ["build-tools"], "build-app": ["build-api"]}

    first = run_pipeline(project, tmp_path / "ci1", registry=registry_tls)
    assert first.returncode == 0, first.output[-8000:]
    events = _order(first.output)
    for before, after in (("base", "api"), ("api", "app"), ("tools", "cli")):
        assert events.index(f"build-{before} finished") < events.index(f"build-{after} starting"), events
    assert not any("using cached layer" in line for line in first.output.splitlines())

    sha = subprocess.run(["git", "-C", str(project), "rev-parse", "--short=8", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    image = f"{registry_tls.host}/group/fiveimages"
    reader = RegistryReader(registry_tls, tmp_path / "read")
    expect = {
        "base": {"/base.txt": "base\n"},
        "api": {"/base.txt": "base\n", "/api.txt": "base\napi\n"},
        "app": {"/base.txt": "base\n", "/api.txt": "base\napi\n", "/app.txt": "base\napi\napp\n"},
        "tools": {"/tools.txt": "tools\n"},
        "cli": {"/cli-tools.txt": "tools\n", "/cli.txt": "cli\n"},
    }
    busybox_files = set(reader.files(busybox, read_under="/nothing/"))
    for name, wanted in expect.items():
        files = reader.files(f"{image}/{name}:{sha}", read_under="/")
        extra = set(files) - busybox_files
        assert extra == set(wanted), f"{name}: {sorted(extra)}"
        assert {p: files[p] for p in wanted} == wanted, name
    assert reader.digest(f"{image}/api:latest") == reader.digest(f"{image}/api:{sha}")
    digests = {name: reader.digest(f"{image}/{name}:{sha}") for name in expect}

    second = run_pipeline(project, tmp_path / "ci2", registry=registry_tls)
    assert second.returncode == 0, second.output[-8000:]
    for name in expect:
        hits = [line for line in second.job_log(f"build-{name}") if "using cached layer" in line]
        assert hits, f"build-{name}: no cache hit on the rerun:\n" + "\n".join(second.job_log(f"build-{name}"))
    assert {name: reader.digest(f"{image}/{name}:{sha}") for name in expect} == digests
