from mason.ci.fixer import fix_file
from mason.ci.pipeline import load_pipeline
from mason.ci.rules import FAILING, lint
from mason.yamlio import load_text

SURROUNDED = """\
# Pipeline with neighbours: nothing outside build-images may change.
stages: [test, build]

variables: &globals
  GREETING: 'single quoted'   # a comment

test:
  stage: test
  variables: *globals
  script:
    - echo "$GREETING"

# The job below is the trap.
build-images:
  stage: build
  image:
    name: gcr.io/kaniko-project/executor:debug
    entrypoint: [""]
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
  script:
    - echo "preparing"   # setup shared by both images
    - /kaniko/executor --cache=true --context . --destination "registry.example.com/g/app:1"
    - echo "built app"
    # the second image
    - >-
      /kaniko/executor
      --cache=true
      --context ./worker
      --destination registry.example.com/g/worker:1
  after_script:
    - echo done

deploy:   # unrelated, after
  stage: build
  needs: [test]
  script: ['echo deploy']
"""


def plain(node):
    """ruamel nodes -> plain data for structural comparison."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node if not isinstance(node, str) else str(node)


def test_fix_turns_seed_before_into_after(seed, run_ci):
    result = fix_file(seed / "before.gitlab-ci.yml")
    after = (seed / "after.gitlab-ci.yml").read_text()
    assert result.fixed == {"build-images": [".build-image", "build-image-a", "build-image-b"]}
    assert plain(load_text(result.text, "fixed")) == plain(load_text(after, "after"))
    assert result.text == after  # even the text: quoting, indentation and blank lines
    # Through the CLI: -o writes a file that lints clean.
    out = seed / "fixed.yml"
    assert run_ci(["fix", str(seed / "before.gitlab-ci.yml"), "-o", str(out)]) == 0
    assert out.read_text() == after
    assert run_ci(["lint", str(out)]) == 0


def test_diff_prints_and_does_not_write(seed, run_ci, capsys):
    before = (seed / "before.gitlab-ci.yml").read_text()
    assert run_ci(["fix", "--diff", str(seed / "before.gitlab-ci.yml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("--- a/") and "+build-image-a:" in out and "-build-images:" in out
    assert (seed / "before.gitlab-ci.yml").read_text() == before


def test_unrelated_lines_untouched_and_jobs_split(tmp_path, write):
    path = write(tmp_path, SURROUNDED)
    result = fix_file(path)
    assert result.fixed["build-images"] == [".build-image", "build-app", "build-worker"]
    old, new = SURROUNDED.splitlines(), result.text.splitlines()
    start = old.index("build-images:")
    end = old.index("deploy:   # unrelated, after") - 1  # the blank line before deploy stays
    assert new[:start] == old[:start]
    tail = len(old) - end
    assert new[-tail:] == old[-tail:]
    assert "variables: &globals" in new and "  variables: *globals" in new
    data = plain(load_text(result.text, "fixed"))
    assert list(data) == ["stages", "variables", "test", ".build-image", "build-app", "build-worker", "deploy"]
    template = data[".build-image"]
    assert list(template) == ["stage", "image", "rules", "after_script"]
    assert data["build-app"] == {"extends": [".build-image"], "script": [
        'echo "preparing"',
        '/kaniko/executor --cache=true --context . --destination "registry.example.com/g/app:1"',
        'echo "built app"']}
    assert data["build-worker"]["script"][0] == 'echo "preparing"'
    assert data["build-worker"]["script"][1].startswith("/kaniko/executor --cache=true --context ./worker")
    assert "    - echo \"preparing\"   # setup shared by both images" in new  # comments kept with entries
    pipeline = load_pipeline(path, text=result.text)
    assert not [f for f in lint(pipeline) if f.severity in FAILING]
    assert pipeline.jobs["build-worker"].config["after_script"] == ["echo done"]


def test_unfixable_jobs_are_reported_not_mangled(tmp_path, write, run_ci, capsys):
    text = ("one-entry:\n  script:\n    - executor --cache=true -d r/a:1 && executor --cache=true -d r/b:1\n\n"
            "extended:\n  script:\n    - executor --cache=true -d r/c:1\n    - executor --cache=true -d r/d:1\n\n"
            "later:\n  extends: extended\n  script: [echo]\n")
    path = write(tmp_path, text)
    result = fix_file(path)
    assert not result.changed and result.fixed == {}
    assert "one command line runs 2 builds (joined by && or ;)" in result.refused["one-entry"]
    assert "job 'later' extends it" in result.refused["extended"]
    assert run_ci(["fix", str(path)]) == 1
    assert path.read_text() == text
    assert "not fixed" in capsys.readouterr().err


def test_template_and_job_names_are_deduplicated(tmp_path, write):
    text = (".build-image: {stage: x}\nbuild-a: {script: [echo]}\n"
            "trap:\n  script:\n    - executor --cache=true -d r/a:1\n    - executor --cache=true -d r/a:2\n"
            "    - executor --cache=true -d $CI_REGISTRY_IMAGE:3\n")
    result = fix_file(write(tmp_path, text))
    assert result.fixed["trap"] == [".build-image-2", "build-a-2", "build-a-3", "trap-3"]
    load_pipeline(tmp_path / ".gitlab-ci.yml", text=result.text)
