import json

from mason.ci.pipeline import load_pipeline
from mason.ci.rules import FAILING, lint


KANIKO = 'image:\n    name: gcr.io/kaniko-project/executor:debug\n    entrypoint: [""]\n'


def rules_of(path):
    return [(f.rule, f.severity, f.line) for f in lint(load_pipeline(path))]


def job(script: str, extra: str = "") -> str:
    return f"build:\n  {KANIKO}{extra}  script:\n{script}"


def test_seed_before_is_flagged_and_after_passes(seed, capsys, run_ci):
    findings = lint(load_pipeline(seed / "before.gitlab-ci.yml"))
    trap = [f for f in findings if f.rule == "MCI001"]
    assert len(trap) == 1 and trap[0].severity == "error"
    assert (trap[0].job, trap[0].line) == ("build-images", 1)
    assert "lines 11, 17" in trap[0].message and trap[0].hint
    assert not [f for f in findings if f.rule == "MCI005"]  # config.json written by redirection: no leak
    assert run_ci(["lint", str(seed / "before.gitlab-ci.yml")]) == 1
    assert "before.gitlab-ci.yml:1: error: [MCI001]" in capsys.readouterr().out
    assert lint(load_pipeline(seed / "after.gitlab-ci.yml")) == []
    assert run_ci(["lint", str(seed / "after.gitlab-ci.yml")]) == 0


def test_json_format(seed, capsys, run_ci):
    assert run_ci(["lint", "--format", "json", str(seed / "before.gitlab-ci.yml")]) == 1
    data = json.loads(capsys.readouterr().out)
    first = data["findings"][0]
    assert set(first) == {"rule", "severity", "message", "file", "line", "hint", "job"}
    assert first["rule"] == "MCI001"


def test_fixture_pipelines(fixtures):
    assert ("MCI001", "error", 16) in rules_of(fixtures / "anchors.gitlab-ci.yml")   # via !reference + anchors
    ext = rules_of(fixtures / "extends.gitlab-ci.yml")
    assert ("MCI001", "error", 26) in ext            # before_script from .base (variable flag) + own script
    assert not [r for r in ext if r[2] == 33]        # parallel:matrix: one build per container
    inc = rules_of(fixtures / "include-main.gitlab-ci.yml")
    assert ("MCI001", "error", 8) in inc and ("MCI007", "info", 4) in inc
    multi = rules_of(fixtures / "multiline.gitlab-ci.yml")
    assert ("MCI001", "error", 6) in multi           # one call inside a for loop
    assert ("MCI001", "error", 13) in multi          # before_script + folded script
    assert ("MCI002", "warning", 22) in multi and ("MCI003", "warning", 22) in multi


def test_single_build_and_uncached_builds_pass(tmp_path, write):
    assert rules_of(write(tmp_path, job("    - /kaniko/executor --cache=true -d r/a:1 -d r/a:2 --cleanup\n"))) == []
    two_plain = job("    - /kaniko/executor -d r/a:1\n    - /kaniko/executor -d r/b:1\n")
    assert rules_of(write(tmp_path, two_plain)) == []


def test_explicit_cache_repo_silences_the_implicit_cache_warning(tmp_path, write):
    text = job("    - executor --cache=true --cache-repo r/c -d r/a:1 -d r/a:2\n"
               "    - executor --cache=true --cache-repo r/c -d r/b:1 -d r/b:2\n")
    assert [r[0] for r in rules_of(write(tmp_path, text))] == ["MCI001"]


def test_mason_builds_are_a_warning(tmp_path, write):
    text = job("    - mason build --cache=true -d r/a:1\n    - mason build --cache=true -d r/b:1\n")
    assert rules_of(write(tmp_path, text)) == [("MCI001", "warning", 1)]


def test_no_push_without_cache_repo(tmp_path, write):
    assert rules_of(write(tmp_path, job("    - /kaniko/executor --cache=true --no-push\n"))) == [("MCI004", "warning", 6)]
    assert rules_of(write(tmp_path, job("    - /kaniko/executor --cache=true --no-push --cache-repo r/c\n"))) == []


def test_credential_leaks(tmp_path, write):
    cases = {
        "    - echo $CI_REGISTRY_PASSWORD\n": 1,
        "    - 'echo \"token: ${CI_JOB_TOKEN}\"'\n": 1,
        "    - echo $CI_REGISTRY_PASSWORD | base64\n": 1,
        "    - echo $CI_REGISTRY_PASSWORD | docker login -u x --password-stdin r\n": 0,
        '    - echo "$CI_REGISTRY_PASSWORD" > /tmp/pw\n': 0,
        "    - echo $CI_REGISTRY_USER\n": 0,
        "    - cat /kaniko/.docker/config.json\n": 1,
        "    - set -x\n    - echo \"{\\\"auth\\\":\\\"$CI_REGISTRY_PASSWORD\\\"}\" > /kaniko/.docker/config.json\n": 1,
        "    - set -ex\n    - set +x\n    - echo \"$CI_REGISTRY_PASSWORD\" > /kaniko/.docker/config.json\n": 0,
    }
    for script, expected in cases.items():
        found = [r for r in rules_of(write(tmp_path, job(script))) if r[0] == "MCI005"]
        assert len(found) == expected, script


def test_set_x_in_before_script_reaches_script_and_debug_trace(tmp_path, write):
    text = ("build:\n  before_script: [set -x]\n  script:\n"
            "    - echo \"$CI_REGISTRY_PASSWORD\" > /kaniko/.docker/config.json\n")
    assert [r[:2] for r in rules_of(write(tmp_path, text))] == [("MCI005", "error")]
    text = ("variables: {CI_DEBUG_TRACE: 'true'}\nbuild:\n  script:\n"
            "    - echo \"$CI_REGISTRY_PASSWORD\" > /kaniko/.docker/config.json\n")
    assert [r[:2] for r in rules_of(write(tmp_path, text))] == [("MCI005", "error")]


def test_kaniko_image_without_shell_or_entrypoint(tmp_path, write):
    text = "build:\n  image: gcr.io/kaniko-project/executor:v1.23.2\n  script: [/kaniko/executor -d r/a:1]\n"
    found = rules_of(write(tmp_path, text))
    assert found == [("MCI006", "error", 2), ("MCI006", "error", 2)]


def test_only_errors_and_warnings_fail(fixtures, tmp_path, write, run_ci):
    text = "include: {remote: 'https://example.com/x.yml'}\nok:\n  script: [echo hi]\n"
    findings = lint(load_pipeline(write(tmp_path, text)))
    assert [f.severity for f in findings] == ["info"] and not FAILING & {f.severity for f in findings}
    assert run_ci(["lint", str(tmp_path / ".gitlab-ci.yml")]) == 0
