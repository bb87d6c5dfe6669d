import subprocess

import pytest

from mason.bake import load_bake
from mason.ci.generate import generate_pipeline
from mason.ci.pipeline import load_pipeline
from mason.ci.rules import job_invocations, lint
from mason.yamlio import load_text
from mason.errors import UsageError

BAKE = """\
version: 1
defaults:
  cache: true
  cache_repo: registry.example.com/group/cache
  build_args: {GO_VERSION: "1.22"}
images:
  app:
    context: services/app
    dockerfile: docker/Dockerfile
    destinations: ["${CI_REGISTRY_IMAGE}/app:${CI_COMMIT_SHORT_SHA}", "${CI_REGISTRY_IMAGE}/app:latest"]
    depends_on: [base, tools]
    build_args: {TRICKY: "a \\"q\\" $(touch /tmp/pwned) `id` \\\\ $HOME 'x'"}
    target: final
    platform: linux/amd64
    labels: {org.opencontainers.image.title: app}
  base:
    destinations: [registry.example.com/group/base:1]
  tools:
    context: tools
    destinations: [registry.example.com/group/tools:1]
    depends_on: [base]
"""


@pytest.fixture
def bake(tmp_path):
    (tmp_path / "mason.bake.yml").write_text(BAKE)
    return load_bake(tmp_path / "mason.bake.yml")


def test_generated_pipeline_structure(bake, tmp_path):
    text = generate_pipeline(bake)
    data = load_text(text, "child")
    assert list(data["stages"]) == ["build-1", "build-2", "build-3"]
    jobs = {k: v for k, v in data.items() if k.startswith("build-")}
    assert list(jobs) == ["build-base", "build-tools", "build-app"]
    assert [jobs[j]["stage"] for j in jobs] == ["build-1", "build-2", "build-3"]
    assert [list(jobs[j]["needs"]) for j in jobs] == [[], ["build-base"], ["build-base", "build-tools"]]
    assert all(jobs[j]["extends"] == ".mason-build" for j in jobs)
    template = data[".mason-build"]
    assert template["image"]["entrypoint"] == [""] and template["variables"]["DOCKER_CONFIG"] == "/kaniko/.docker"
    # Our own loader and linter understand it: one cached build per job, shared cache repo, no leaks.
    path = tmp_path / "child.yml"
    path.write_text(text)
    pipeline = load_pipeline(path)
    assert lint(pipeline) == []
    [inv] = job_invocations(pipeline.jobs["build-app"], pipeline)
    assert inv.kind == "mason" and inv.cache_enabled
    assert inv.values("cache-repo") == ["registry.example.com/group/cache"]
    assert inv.values("context") == ["${CI_PROJECT_DIR}/services/app"]
    assert inv.values("dockerfile") == ["${CI_PROJECT_DIR}/services/app/docker/Dockerfile"]
    assert inv.destinations == ["${CI_REGISTRY_IMAGE}/app:${CI_COMMIT_SHORT_SHA}", "${CI_REGISTRY_IMAGE}/app:latest"]
    assert inv.values("custom-platform") == ["linux/amd64"] and inv.values("target") == ["final"]
    assert inv.values("label") == ["org.opencontainers.image.title=app"]
    base = job_invocations(pipeline.jobs["build-base"], pipeline)[0]
    assert base.values("context") == ["${CI_PROJECT_DIR}"]


def test_script_survives_a_real_shell(bake, tmp_path):
    """Run the generated script in /bin/sh with `mason` a function printing its arguments."""
    data = load_text(generate_pipeline(bake), "child")
    script = str(data["build-app"]["script"][0])
    marker = tmp_path / "pwned"
    env = {"CI_PROJECT_DIR": "/proj", "CI_REGISTRY_IMAGE": "reg/g", "CI_COMMIT_SHORT_SHA": "abc", "HOME": "/home/u",
           "PATH": "/usr/bin:/bin"}
    shell = "mason() { for a in \"$@\"; do printf '%s\\n' \"$a\"; done; }\n" + script.replace("/tmp/pwned", str(marker))
    out = subprocess.run(["sh", "-c", shell], env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[:4] == ["build", "--context", "/proj/services/app", "--dockerfile"]
    assert "reg/g/app:abc" in out
    tricky = next(a for a in out if a.startswith("TRICKY="))
    assert tricky == f"TRICKY=a \"q\" $(touch {marker}) `id` \\ /home/u 'x'"
    assert not marker.exists()


def test_generate_cli_and_errors(bake, tmp_path, run_ci):
    out = tmp_path / "child.yml"
    assert run_ci(["generate", str(bake.path), "-o", str(out), "--mason-image", "reg/mason:1"]) == 0
    assert load_text(out.read_text(), "child")["variables"]["MASON_IMAGE"] == "reg/mason:1"
    no_repo = BAKE.replace("  cache_repo: registry.example.com/group/cache\n", "")
    (tmp_path / "b.yml").write_text(no_repo)
    with pytest.raises(UsageError, match="enables the cache without cache_repo"):
        generate_pipeline(load_bake(tmp_path / "b.yml"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yml").write_text(BAKE.replace("context: tools", "context: ../../elsewhere"))
    with pytest.raises(UsageError, match="outside the repository root"):
        generate_pipeline(load_bake(tmp_path / "sub" / "c.yml"), root=tmp_path)
    (tmp_path / "cyc.yml").write_text(BAKE.replace("    destinations: [registry.example.com/group/base:1]",
                                                   "    destinations: [registry.example.com/group/base:1]\n"
                                                   "    depends_on: [app]"))
    with pytest.raises(UsageError, match="dependency cycle"):
        run_ci(["generate", str(tmp_path / "cyc.yml")])
