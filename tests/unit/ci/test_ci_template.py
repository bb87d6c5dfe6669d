import shutil

from mason.ci.pipeline import load_pipeline
from mason.ci.rules import job_invocations, lint

from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[3] / "ci" / "gitlab" / "mason.gitlab-ci.yml"


def test_includable_template_extends_cleanly(tmp_path, write):
    (tmp_path / "ci" / "gitlab").mkdir(parents=True)
    shutil.copy(TEMPLATE, tmp_path / "ci" / "gitlab" / "mason.gitlab-ci.yml")
    path = write(tmp_path, "include:\n  - local: ci/gitlab/mason.gitlab-ci.yml\n"
                           "build-app:\n  extends: .mason-build\n  variables:\n"
                           "    MASON_DESTINATION: \"${CI_REGISTRY_IMAGE}/app:1\"\n"
                           "    MASON_EXTRA_ARGS: \"--target final --build-arg A=1\"\n")
    pipeline = load_pipeline(path)
    assert list(pipeline.jobs) == ["build-app"]
    assert lint(pipeline) == []
    [inv] = job_invocations(pipeline.jobs["build-app"], pipeline)
    assert inv.program == "/kaniko/executor" and inv.cache_enabled
    assert inv.destinations == ["${CI_REGISTRY_IMAGE}/app:1"]
    assert inv.values("target") == ["final"] and inv.values("build-arg") == ["A=1"]
    job = pipeline.jobs["build-app"]
    assert job.config["variables"]["DOCKER_CONFIG"] == "/kaniko/.docker"
    assert job.config["image"]["entrypoint"] == [""]
