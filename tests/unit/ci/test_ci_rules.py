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
    trap = [f for f in findings if f.rule == "MASON001"]
    assert len(trap) == 1 and trap[0].severity == "error"
    assert (trap[0].job, trap[0].line) == ("build-images", 1)
    assert "lines 11, 17" in trap[0].message and trap[0].hint
    assert not [f for f in findings if f.rule == "MASON007"]  # config.json written by redirection: no leak
    assert run_ci(["lint", str(seed / "before.gitlab-ci.yml")]) == 1
    assert "before.gitlab-ci.yml:1: error: [MASON001]" in capsys.readouterr().out
    assert lint(load_pipeline(seed / "after.gitlab-ci.yml")) == []
    assert run_ci(["lint", str(seed / "after.gitlab-ci.yml")]) == 0


def test_json_format(seed, capsys, run_ci):
    assert run_ci(["lint", "--format", "json", str(seed / "before.gitlab-ci.yml")]) == 1
    data = json.loads(capsys.readouterr().out)
    first = data["findings"][0]
    assert set(first) == {"rule", "severity", "message", "file", "line", "hint", "job", "check_name"}
    assert first["rule"] == "MASON001" and first["check_name"] == "several-cached-kaniko-builds"


def test_codequality_format(seed, capsys, run_ci, tmp_path, write):
    assert run_ci(["lint", "--format", "codequality", str(seed / "before.gitlab-ci.yml")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["check_name"] for r in report] == ["several-cached-kaniko-builds", "implicit-cache-repo",
                                                 "implicit-cache-repo"]
    entry = report[0]
    assert report[1]["fingerprint"] != report[2]["fingerprint"]
    assert set(entry) == {"description", "check_name", "fingerprint", "severity", "location"}
    assert entry["severity"] == "critical" and entry["description"].startswith("[MASON001] job 'build-images'")
    assert entry["location"] == {"path": "before.gitlab-ci.yml", "lines": {"begin": 1}}
    assert len(entry["fingerprint"]) == 64
    # the fingerprint survives lines added above the job; another job gets another one
    moved = write(tmp_path, "# a new comment\n\n" + (seed / "before.gitlab-ci.yml").read_text(), "before.gitlab-ci.yml")
    out = tmp_path / "cq.json"
    assert run_ci(["lint", "--format", "codequality", "-o", str(out), str(moved)]) == 1
    again = json.loads(out.read_text())[0]
    assert again["fingerprint"] == entry["fingerprint"] and again["location"]["lines"]["begin"] == 3
    renamed = write(tmp_path, (seed / "before.gitlab-ci.yml").read_text().replace("build-images:", "imgs:"),
                    "before.gitlab-ci.yml")
    assert run_ci(["lint", "--format", "codequality", "-o", str(out), str(renamed)]) == 1
    assert json.loads(out.read_text())[0]["fingerprint"] != entry["fingerprint"]


def test_every_rule_has_a_check_name_and_every_finding_a_hint(fixtures):
    from mason.ci.rules import RULES

    assert sorted(RULES) == [f"MASON{n:03d}" for n in range(1, len(RULES) + 1)]
    assert len({name for name, _ in RULES.values()}) == len(RULES)
    for path in fixtures.glob("*.gitlab-ci.yml"):
        for finding in lint(load_pipeline(path)):
            assert finding.rule in RULES and finding.hint


def test_fixture_pipelines(fixtures):
    assert ("MASON001", "error", 16) in rules_of(fixtures / "anchors.gitlab-ci.yml")   # via !reference + anchors
    ext = rules_of(fixtures / "extends.gitlab-ci.yml")
    assert ("MASON001", "error", 26) in ext            # before_script from .base (variable flag) + own script
    assert not [r for r in ext if r[2] == 33]        # parallel:matrix: one build per container
    inc = rules_of(fixtures / "include-main.gitlab-ci.yml")
    assert ("MASON001", "error", 8) in inc and ("MASON009", "info", 4) in inc
    multi = rules_of(fixtures / "multiline.gitlab-ci.yml")
    assert ("MASON001", "error", 6) in multi           # one call inside a for loop
    assert ("MASON001", "error", 13) in multi          # before_script + folded script
    assert ("MASON004", "warning", 22) in multi and ("MASON005", "warning", 22) in multi


def test_single_build_passes_and_uncached_builds_are_a_warning(tmp_path, write):
    assert rules_of(write(tmp_path, job("    - /kaniko/executor --cache=true -d r/a:1 -d r/a:2 --cleanup\n"))) == []
    two_plain = job("    - /kaniko/executor -d r/a:1\n    - /kaniko/executor -d r/b:1\n")
    [finding] = lint(load_pipeline(write(tmp_path, two_plain)))
    assert (finding.rule, finding.severity) == ("MASON002", "warning")
    assert "/kaniko/<stage>" in finding.message and "not even with --cleanup" in finding.message
    two_mason = job("    - mason build -d r/a:1\n    - mason build -d r/b:1\n")
    assert rules_of(write(tmp_path, two_mason)) == []   # mason isolates builds; nothing shared without a cache
    loop_of_one = job("    - for n in a; do /kaniko/executor --cache=true -d r/$n:1; done\n")
    assert rules_of(write(tmp_path, loop_of_one)) == []   # a literal list of one: one build


def test_explicit_cache_repo_silences_the_implicit_cache_warning(tmp_path, write):
    text = job("    - executor --cache=true --cache-repo r/c -d r/a:1 -d r/a:2\n"
               "    - executor --cache=true --cache-repo r/c -d r/b:1 -d r/b:2\n")
    assert [r[0] for r in rules_of(write(tmp_path, text))] == ["MASON001"]


def test_mason_builds_are_a_warning(tmp_path, write):
    text = job("    - mason build --cache=true -d r/a:1\n    - mason build --cache=true -d r/b:1\n")
    assert rules_of(write(tmp_path, text)) == [("MASON003", "warning", 1)]


def test_no_push_without_cache_repo(tmp_path, write):
    assert rules_of(write(tmp_path, job("    - /kaniko/executor --cache=true --no-push\n"))) == [("MASON006", "warning", 6)]
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
        found = [r for r in rules_of(write(tmp_path, job(script))) if r[0] == "MASON007"]
        assert len(found) == expected, script


def test_set_x_in_before_script_reaches_script_and_debug_trace(tmp_path, write):
    text = ("build:\n  before_script: [set -x]\n  script:\n"
            "    - echo \"$CI_REGISTRY_PASSWORD\" > /kaniko/.docker/config.json\n")
    assert [r[:2] for r in rules_of(write(tmp_path, text))] == [("MASON007", "error")]
    text = ("variables: {CI_DEBUG_TRACE: 'true'}\nbuild:\n  script:\n"
            "    - echo \"$CI_REGISTRY_PASSWORD\" > /kaniko/.docker/config.json\n")
    assert [r[:2] for r in rules_of(write(tmp_path, text))] == [("MASON007", "error")]


def test_kaniko_image_without_shell_or_entrypoint(tmp_path, write):
    text = "build:\n  image: gcr.io/kaniko-project/executor:v1.23.2\n  script: [/kaniko/executor -d r/a:1]\n"
    found = rules_of(write(tmp_path, text))
    assert found == [("MASON008", "error", 2), ("MASON008", "error", 2)]


def test_only_errors_and_warnings_fail(fixtures, tmp_path, write, run_ci):
    text = "include: {remote: 'https://example.com/x.yml'}\nok:\n  script: [echo hi]\n"
    findings = lint(load_pipeline(write(tmp_path, text)))
    assert [f.severity for f in findings] == ["info"] and not FAILING & {f.severity for f in findings}
    assert run_ci(["lint", str(tmp_path / ".gitlab-ci.yml")]) == 0


def test_the_trap_message_says_what_cleanup_changes(tmp_path, write):
    two = job("    - /kaniko/executor --cache=true -d r/a:1{c}\n    - /kaniko/executor --cache=true -d r/b:1{c}\n")
    [without] = [f for f in lint(load_pipeline(write(tmp_path, two.format(c="")))) if f.rule == "MASON001"]
    assert "without --cleanup the previous image's files stay in the container's root" in without.message
    found = lint(load_pipeline(write(tmp_path, two.format(c=" --cleanup"))))
    [with_cleanup] = [f for f in found if f.rule == "MASON001"]
    assert "--cleanup" not in with_cleanup.message and "/kaniko/<stage>" in with_cleanup.message
    assert [f.rule for f in found if f.rule == "MASON004"] == ["MASON004", "MASON004"]
