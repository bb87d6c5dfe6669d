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


INFERRED = """\
version: 1
images:
  app:
    context: app
    destinations: ["${CI_REGISTRY_IMAGE}/app:${CI_COMMIT_SHORT_SHA}"]
    build_args: {API: "$CI_REGISTRY_IMAGE/api:$CI_COMMIT_SHORT_SHA"}
    platform: linux/arm64
  api:
    context: api
    destinations: ["${CI_REGISTRY_IMAGE}/api:${CI_COMMIT_SHORT_SHA}"]
    reproducible: true
  lib:
    context: lib
    destinations: [registry.example.com/group/lib:2]
  tool:
    context: tool
    destinations: ["${CI_REGISTRY_IMAGE}/tool:${CI_COMMIT_SHORT_SHA}"]
"""


@pytest.fixture
def inferred(tmp_path):
    for name, text in {
        "app": "ARG API\nFROM ${API}\n",
        "api": "FROM registry.example.com/group/base:1\nCOPY --from=registry.example.com/group/lib:2 /x /x\n",
        "lib": "FROM scratch\n",
        "tool": "ARG CI_REGISTRY_IMAGE\nFROM ${CI_REGISTRY_IMAGE}/app:1\n",   # another tag: no dependency
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(text)
    (tmp_path / "mason.bake.yml").write_text(INFERRED)
    return load_bake(tmp_path / "mason.bake.yml")


def test_needs_are_inferred_from_dockerfiles_with_ci_variables(inferred):
    text = generate_pipeline(inferred)
    data = load_text(text, "child")
    needs = {k: list(v["needs"]) for k, v in data.items() if k.startswith("build-")}
    assert needs == {"build-lib": [], "build-tool": [], "build-api": ["build-lib"], "build-app": ["build-api"]}
    assert [data[j]["stage"] for j in ("build-lib", "build-api", "build-app")] == ["build-1", "build-2", "build-3"]
    assert "# build-app needs build-api: its Dockerfile builds on its destination." in text
    api = str(data["build-api"]["script"][0])
    assert "--reproducible" in api and "--reproducible" not in str(data["build-app"]["script"][0])


def test_runner_tags_per_platform(inferred, run_ci, tmp_path):
    data = load_text(generate_pipeline(inferred, runner_tags={"linux/arm64": ["arm64", "saas"]}), "child")
    assert list(data["build-app"]["tags"]) == ["arm64", "saas"]
    assert "tags" not in data["build-api"]
    with pytest.raises(UsageError, match="no image .* builds that platform"):
        generate_pipeline(inferred, runner_tags={"linux/s390x": ["z"]})
    with pytest.raises(UsageError, match="write PLATFORM=TAG"):
        run_ci(["generate", str(inferred.path), "--runner-tag", "linux/arm64"])
    out = tmp_path / "c.yml"
    assert run_ci(["generate", str(inferred.path), "-o", str(out), "--runner-tag", "linux/arm64=a,b"]) == 0
    assert list(load_text(out.read_text(), "c")["build-app"]["tags"]) == ["a", "b"]


def test_symbolic_reference_keys():
    from mason.bake.deps import reference_key

    assert reference_key("${CI_REGISTRY_IMAGE}/api:${CI_COMMIT_SHORT_SHA}") == \
        reference_key("$CI_REGISTRY_IMAGE/api:$CI_COMMIT_SHORT_SHA")
    assert reference_key("${CI_REGISTRY_IMAGE}/api") == reference_key("${CI_REGISTRY_IMAGE}/api:latest")
    assert reference_key("${CI_REGISTRY_IMAGE}/api:1") != reference_key("${CI_REGISTRY}/api:1")
    assert reference_key("${A:-x}/api") is None


PLATFORMS = """\
version: 1
defaults:
  platforms: [linux/amd64, linux/arm/v7]
images:
  one:
    destinations: ["${CI_REGISTRY_IMAGE}/one:${CI_COMMIT_SHORT_SHA}", "reg.example.com/g/one"]
  two:
    platform: linux/arm64
    destinations: [reg.example.com/g/two:1]
"""


def test_platforms_become_one_job_per_platform_and_an_index_job(tmp_path):
    (tmp_path / "mason.bake.yml").write_text(PLATFORMS)
    bake = load_bake(tmp_path / "mason.bake.yml")
    assert bake.images["two"].platforms == () and bake.images["two"].platform == "linux/arm64"
    data = load_text(generate_pipeline(bake, runner_tags={"linux/arm/v7": ["armhf"]}), "child")
    assert list(data["stages"]) == ["build-1", "index-1"]
    assert [k for k in data if k.startswith("build-")] == ["build-one-amd64", "build-one-arm-v7", "build-one",
                                                            "build-two"]
    assert list(data["build-one-arm-v7"]["tags"]) == ["armhf"] and "tags" not in data["build-one-amd64"]
    arm = str(data["build-one-arm-v7"]["script"][0])
    assert '--destination "${CI_REGISTRY_IMAGE}/one:${CI_COMMIT_SHORT_SHA}-arm-v7"' in arm
    assert '--custom-platform "linux/arm/v7"' in arm and arm.count("--destination") == 1
    index = data["build-one"]
    assert index["stage"] == "index-1" and list(index["needs"]) == ["build-one-amd64", "build-one-arm-v7"]
    assert [str(s) for s in index["script"]] == [
        f'mason manifest create "{d}" "${{CI_REGISTRY_IMAGE}}/one:${{CI_COMMIT_SHORT_SHA}}-amd64" '
        f'"${{CI_REGISTRY_IMAGE}}/one:${{CI_COMMIT_SHORT_SHA}}-arm-v7"'
        for d in ("${CI_REGISTRY_IMAGE}/one:${CI_COMMIT_SHORT_SHA}", "reg.example.com/g/one")]


@pytest.mark.parametrize("change, message", [
    ("    platform: linux/arm64\n", "give platform (one) or platforms (several), not both"),
    ("    platforms: [linux/amd64, linux/x86_64]\n", "platforms lists linux/amd64 twice"),
    ("    platforms: [linux]\n", "platforms:"),
])
def test_bad_platforms_are_refused(tmp_path, change, message):
    text = "version: 1\nimages:\n  one:\n    destinations: [r/g/one:1]\n    platforms: [linux/amd64]\n"
    if change.strip().startswith("platforms"):
        text = text.replace("    platforms: [linux/amd64]\n", change)
    else:
        text += change
    (tmp_path / "b.yml").write_text(text)
    import re

    with pytest.raises(UsageError, match=re.escape(message)):
        load_bake(tmp_path / "b.yml")


def test_platform_images_need_tagged_destinations(tmp_path):
    (tmp_path / "b.yml").write_text("version: 1\nimages:\n  one:\n    platforms: [linux/amd64]\n"
                                    "    destinations: ['r/g/one@sha256:" + "a" * 64 + "']\n")
    with pytest.raises(UsageError, match="is a digest; a per-platform image needs a tag"):
        generate_pipeline(load_bake(tmp_path / "b.yml"))


def test_mason_bake_refuses_platforms(tmp_path):
    import argparse

    from mason.cli import bake_cmd

    (tmp_path / "mason.bake.yml").write_text(PLATFORMS)
    parser = argparse.ArgumentParser()
    bake_cmd.configure(parser)
    with pytest.raises(UsageError, match="mason bake builds one platform per image") as info:
        bake_cmd.run(parser.parse_args([]), env={"CI_REGISTRY_IMAGE": "r/g", "CI_COMMIT_SHORT_SHA": "1"}, cwd=tmp_path)
    assert "mason ci generate" in info.value.hint
