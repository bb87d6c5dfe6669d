import pytest

from mason.ci.pipeline import load_pipeline
from mason.errors import UsageError



def script_texts(job, key="script"):
    return [str(s) for s in job.script_section(key)]


def test_anchors_merge_keys_and_reference(fixtures):
    p = load_pipeline(fixtures / "anchors.gitlab-ci.yml")
    job = p.jobs["anchored-job"]
    assert job.config["image"]["name"] == "gcr.io/kaniko-project/executor:debug"
    assert script_texts(job, "before_script")[0] == "mkdir -p /kaniko/.docker"
    script = job.script_section("script")
    assert script[0] == "/kaniko/executor --cache=true --context . --destination reg.example.com/g/one:1"
    assert (script[0].line, script[1].line) == (14, 22)  # the !reference'd line, then the block's first line
    assert list(p.jobs) == ["anchored-job"]  # hidden jobs are templates, not jobs


def test_extends_chain_deep_merges_hashes_and_replaces_lists(fixtures):
    p = load_pipeline(fixtures / "extends.gitlab-ci.yml")
    leaf = p.jobs["leaf"]
    assert dict(leaf.config["variables"]) == {"GLOBAL": "g", "CACHE_FLAG": "--cache=true", "A": "leaf",
                                              "B": "middle", "C": "other"}
    assert script_texts(leaf) == ["/kaniko/executor --cache=true --context . --destination reg.example.com/g/main:1"]
    assert script_texts(leaf, "before_script")[0].startswith("/kaniko/executor $CACHE_FLAG")
    assert "extends" not in leaf.config
    assert p.jobs["matrix-job"].config["before_script"] == []


def test_include_local_nested_glob_and_remote_recorded(fixtures):
    p = load_pipeline(fixtures / "include-main.gitlab-ci.yml")
    assert set(p.jobs) == {"single", "from-include"}
    job = p.jobs["from-include"]
    script = job.script_section("script")
    assert [s.file.rsplit("/", 1)[-1] for s in script] == ["templates.yml", "include-main.gitlab-ci.yml"]
    assert job.config["image"]["entrypoint"] == [""]
    assert [(i.kind, i.value) for i in p.unresolved_includes] == [("remote", "https://example.com/ci/shared.yml")]
    assert {f.name for f in p.files} == {"include-main.gitlab-ci.yml", "templates.yml", "nested.yml",
                                         "more-jobs.yml"}


def test_default_and_inherit(fixtures):
    p = load_pipeline(fixtures / "multiline.gitlab-ci.yml")
    assert p.jobs["loop-job"].config["image"]["name"].endswith(":debug")
    assert p.jobs["no-default"].config["image"] == "alpine"


def test_main_file_overrides_included_keys(tmp_path, write):
    write(tmp_path, "job:\n  script: [inc]\n  variables: {A: inc, B: inc}\n", "inc.yml")
    path = write(tmp_path, "include: inc.yml\njob:\n  variables: {B: main}\n")
    job = load_pipeline(path).jobs["job"]
    assert script_texts(job) == ["inc"]
    assert dict(job.config["variables"]) == {"A": "inc", "B": "main"}


@pytest.mark.parametrize("text,message", [
    ("a:\n  extends: .missing\n  script: [x]\n", "extends unknown job '.missing'"),
    (".a:\n  extends: .b\n.b:\n  extends: .a\nc:\n  extends: .a\n", "extends cycle"),
    ("a:\n  script:\n    - !reference [.nope, script]\n", "no job '.nope'"),
    (".t: {x: 1}\na:\n  script:\n    - !reference [.t, script]\n", "'script' not found"),
    ("a:\n  script: !shell [x]\n", "unsupported YAML tag !shell"),
    ("include: missing.yml\n", "missing.yml"),
    ("include:\n  - local: 'ci/$X.yml'\n", "uses a variable"),
    ("a:\n  script: {x: 1}\n", "must be a string or a list"),
    ("a: [1\n", "invalid YAML"),
])
def test_errors_name_the_file_and_problem(tmp_path, text, message, write):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        p = load_pipeline(path)
        for job in p.jobs.values():
            job.script_section("script")
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_include_cycle_is_an_error(tmp_path, write):
    write(tmp_path, "include: b.yml\n", "a.yml")
    write(tmp_path, "include: a.yml\n", "b.yml")
    with pytest.raises(UsageError, match="include cycle"):
        load_pipeline(tmp_path / "a.yml")
