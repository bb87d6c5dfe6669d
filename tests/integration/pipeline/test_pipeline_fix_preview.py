"""``mason ci fix`` output read by GitLab's semantics as another implementation has them.

``gitlab-ci-local --preview`` prints a pipeline with ``extends``, ``!reference``, anchors and
``include: local`` applied, after validating it against GitLab's JSON schema (``needs`` naming
jobs that exist, valid keys). For each pipeline shape the fix rewrites, the preview of the
result must agree with mason's own loader on every split job's script, every build command of
the original job must be in exactly one split job, and every other job must be unchanged.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mason.ci.fixer import fix_file
from mason.ci.pipeline import load_pipeline
from mason.yamlio import load_text
from tests.support.gitlabci import GITLAB_CI_LOCAL, available, make_project

REPO = Path(__file__).resolve().parents[3]
K = "/kaniko/executor --cache=true"

CASES = {
    "seed": (REPO / "tests" / "fixtures" / "seed" / "before.gitlab-ci.yml").read_text(),
    "krake": (REPO / "tests" / "unit" / "ci" / "fixtures" / "realworld" / "krake-ci-images.yml").read_text(),
    "extends": f"""\
.kaniko:
  script:
    # the app image
    - {K} --context app --destination r/g/app:1
    - {K} --context worker --destination r/g/worker:1
images:
  extends: .kaniko
  stage: build
deploy:
  needs: [images]
  script: [echo deploy]
""",
    "reference-and-alias": f"""\
.setup:
  script:
    - echo "setting up"
.snippets:
  one: &one {K} --destination r/g/one:1
images:
  script:
    - !reference [.setup, script]
    - *one
    - {K} --destination r/g/two:1
""",
    "block-and-trailing": f"""\
images:
  stage: build
  script:
    - cd .
    - |
      echo "start"
      {K} --destination r/g/a:1
      {K} --destination r/g/b:1
    - echo "after both" > done.txt
scan:
  needs:
    - job: images
      artifacts: false
  script: [echo scan]
""",
    "merge-key": f"""\
.template: &template
  stage: build
  script:
    - {K} --destination r/g/a:1
    - for n in b c; do {K} --destination "r/g/$n:1"; done
images:
  <<: *template
  variables: {{X: "1"}}
""",
}


def preview(project: Path) -> dict:
    proc = subprocess.run([str(GITLAB_CI_LOCAL), "--preview", "--no-color"], cwd=project, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(project.parent)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = load_text(proc.stdout, "preview")
    return {str(k): v for k, v in data.items() if isinstance(v, dict) and "script" in v}


def builds(script) -> list[str]:
    return [str(line) for line in script if "executor" in str(line)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_pipeline_reads_the_same_in_gitlab_ci_local(case, tmp_path):
    why = available()
    assert why is None, why
    original = make_project(tmp_path / "original", {".gitlab-ci.yml": CASES[case]})
    before = preview(original)
    result = fix_file(original / ".gitlab-ci.yml")
    assert len(result.fixed) == 1 and not result.refused, result.refused
    [(name, names)] = result.fixed.items()
    fixed = make_project(tmp_path / "fixed", {".gitlab-ci.yml": result.text})
    after = preview(fixed)
    ours = load_pipeline(fixed / ".gitlab-ci.yml")

    new_jobs = names[1:]
    assert set(after) == (set(before) - {name}) | set(new_jobs)
    for job in new_jobs:
        assert [str(s) for s in after[job]["script"]] == [str(s) for s in ours.jobs[job].script_section("script")]
    split_builds = [b for job in new_jobs for b in builds(after[job]["script"])]
    original_builds = builds(before[name]["script"])
    if case == "merge-key":   # the loop became one entry per value: same command, list reduced
        assert len(split_builds) == 3 and original_builds[0] in split_builds
    elif case == "block-and-trailing":   # the | block was cut: each part holds one of its builds
        assert len(split_builds) == 2
        for line in (f"{K} --destination r/g/a:1", f"{K} --destination r/g/b:1"):
            assert sum(line in b for b in split_builds) == 1
    else:
        assert sorted(split_builds) == sorted(original_builds)
    for job in set(before) - {name}:
        expected = dict(before[job])
        got = dict(after[job])
        if "needs" in expected and name in str(expected["needs"]) and name not in new_jobs:
            expected.pop("needs")
            assert {str(n["job"]) if isinstance(n, dict) else str(n) for n in got.pop("needs")} == \
                set(new_jobs) | {str(n) for n in expected.get("needs", [])}
        assert got == expected, job
