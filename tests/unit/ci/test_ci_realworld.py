"""``mason ci lint`` and ``mason ci fix`` on the real-world pipeline shapes in fixtures/realworld
(see the README there for their sources). Each file's outcome is stated here: the lint codes it
must produce, and whether fix leaves it alone, splits a job (into what) or refuses (why)."""

from pathlib import Path

import pytest

from mason.ci.fixer import fix_file
from mason.ci.pipeline import load_pipeline
from mason.ci.rules import FAILING, job_invocations, lint, needs_split

REALWORLD = Path(__file__).parent / "fixtures" / "realworld"

EXPECTED = {
    # fixture: (lint codes, {job: split job names} or {} when nothing needs fixing)
    "gitlab-template.yml": ([], {}),
    "gitlab-docs-proxy.yml": ([], {}),
    "krake-ci-images.yml": (["MASON002", "MASON008"],
                            {"build-ci-images": [".build-image", "build-ansible_image", "build-test_image",
                                                 "build-pre_commit_image"]}),
    "krake-release.yml": (["MASON009"], {}),
    "anchored-snippets.yml": ([], {}),
    "hidden-templates.yml": ([], {}),
    "heredoc-config.yml": ([], {}),
    "three-jobs-per-ref.yml": ([], {}),
    "dynamic-destinations.yml": ([], {}),
    "four-space-indent.yml": ([], {}),
    "extends-needs-reference.yml": ([], {}),
    "extends-chain-many-jobs.yml": ([], {}),
}


def test_every_fixture_has_an_expectation():
    assert sorted(p.name for p in REALWORLD.glob("*.yml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 10


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_lint_and_fix(name, tmp_path):
    codes, split = EXPECTED[name]
    path = tmp_path / name
    path.write_text((REALWORLD / name).read_text())
    pipeline = load_pipeline(path)
    assert sorted({f.rule for f in lint(pipeline)}) == codes
    builds = sum(len(job_invocations(job, pipeline)) for job in pipeline.jobs.values())
    assert builds >= 1 or name in ("anchored-snippets.yml", "hidden-templates.yml")   # templates only
    result = fix_file(path)
    assert result.refused == {}
    assert result.fixed == split
    if not split:
        assert result.text == result.original
        return
    fixed = load_pipeline(path, text=result.text)
    for new in sum(split.values(), [])[1:]:
        assert len(job_invocations(fixed.jobs[new], fixed)) == 1 and not needs_split(job_invocations(fixed.jobs[new], fixed))
    assert not {f.rule for f in lint(fixed)} & {"MASON001", "MASON002"}
    assert not [f for f in lint(fixed) if f.severity in FAILING and f.rule != "MASON008"]
