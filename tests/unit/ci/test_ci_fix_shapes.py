"""``mason ci fix`` on the shapes real pipelines have: each rewrite is checked structurally
(GitLab's view after extends/!reference, through mason's own loader) and textually (comments
beside the lines they describe, untouched lines byte-for-byte)."""

import pytest

from mason.ci.fixer import fix_file
from mason.ci.pipeline import load_pipeline
from mason.ci.rules import FAILING, job_invocations, lint

K = "/kaniko/executor --cache=true"


def fixed(tmp_path, write, text, name=".gitlab-ci.yml"):
    path = write(tmp_path, text, name)
    result = fix_file(path)
    pipeline = load_pipeline(path, text=result.text)
    assert not [f for f in lint(pipeline) if f.severity in FAILING and f.job in sum(result.fixed.values(), [])]
    return result, pipeline


def scripts(pipeline, job):
    return [str(s) for s in pipeline.jobs[job].script_section("script")]


def dests(pipeline, job):
    return [d for inv in job_invocations(pipeline.jobs[job], pipeline) for d in inv.destinations]


def test_script_inherited_through_an_extends_chain(tmp_path, write):
    text = f"""\
.kaniko:
  image: {{name: "gcr.io/kaniko-project/executor:debug", entrypoint: [""]}}
  script:
    # the app image
    - {K} --context app --destination r/g/app:1
    # the worker image
    - {K} --context worker --destination r/g/worker:1

.middle:
  extends: .kaniko
  stage: build

images:
  extends: .middle
  variables: {{X: "1"}}
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"] == [".build-image", "build-app", "build-worker"]
    assert dests(pipeline, "build-app") == ["r/g/app:1"] and dests(pipeline, "build-worker") == ["r/g/worker:1"]
    assert pipeline.jobs["build-app"].config["stage"] == "build"           # still through .middle
    assert pipeline.jobs["build-worker"].config["variables"]["X"] == "1"
    assert ".kaniko:\n  image:" in result.text and result.text.startswith(text.split("images:")[0])
    # each comment went with the entry it described
    app = result.text.index("build-app:")
    worker = result.text.index("build-worker:")
    assert result.text.index("# the app image", app) < worker < result.text.index("# the worker image", worker)


def test_reference_to_a_list_of_builds_is_expanded_and_setup_references_kept(tmp_path, write):
    text = f"""\
.setup:
  script:
    - echo "setting up"
.builds:
  script:
    - {K} --destination r/g/one:1   # one
    - {K} --destination r/g/two:1   # two

images:
  script:
    - !reference [.setup, script]
    - !reference [.builds, script]
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"][1:] == ["build-one", "build-two"]
    assert scripts(pipeline, "build-one") == ['echo "setting up"', f"{K} --destination r/g/one:1"]
    assert "    - !reference [.setup, script]\n    - /kaniko/executor --cache=true --destination r/g/one:1   # one\n" \
        in result.text


def test_anchors_and_aliases(tmp_path, write):
    text = f"""\
.snippets:
  login: &login
    - echo login
  one: &one {K} --destination r/g/one:1
images:
  script:
    - *login
    - *one
    - {K} --destination r/g/two:1
other:
  script: *login
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"][1:] == ["build-one", "build-two"]
    assert scripts(pipeline, "build-one") == ["echo login", f"{K} --destination r/g/one:1"]
    assert scripts(pipeline, "build-two") == ["echo login", f"{K} --destination r/g/two:1"]
    assert result.text.count("&one") == 1 and "    - *one\n" in result.text


def test_whole_script_an_alias_copies_items_without_their_anchors(tmp_path, write):
    text = f"""\
.defs:
  steps: &steps
    - &first {K} --destination r/g/one:1
    - {K} --destination r/g/two:1
images:
  script: *steps
again:
  script: [*first]
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"][1:] == ["build-one", "build-two"]
    assert result.text.count("&first") == 1
    assert scripts(pipeline, "again") == [f"{K} --destination r/g/one:1"]


def test_needers_are_rewritten_block_flow_and_mapping(tmp_path, write):
    text = f"""\
images:
  script:
    - {K} --destination r/g/a:1
    - {K} --destination r/g/b:1
deploy:
  needs:
    - test   # unrelated
    - job: images   # wait for the images
      artifacts: false
  script: [echo deploy]
scan:
  needs: [images, test]
  dependencies:
    - images
  script: [echo scan]
test:
  script: [echo test]
"""
    result, pipeline = fixed(tmp_path, write, text)
    deploy = pipeline.jobs["deploy"].config["needs"]
    assert [n if isinstance(n, str) else dict(n) for n in deploy] == [
        "test", {"job": "build-a", "artifacts": False}, {"job": "build-b", "artifacts": False}]
    assert list(pipeline.jobs["scan"].config["needs"]) == ["build-a", "build-b", "test"]
    assert list(pipeline.jobs["scan"].config["dependencies"]) == ["build-a", "build-b"]
    assert result.text.count("# wait for the images") == 2 and "    - test   # unrelated\n" in result.text


def test_loop_over_a_literal_list_becomes_one_job_per_value(tmp_path, write):
    text = f"""\
images:
  script:
    - export TAG=1
    - for name in api web; do {K} --context "$name" --destination "r/g/$name:$TAG"; done
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"][1:] == ["build-api", "build-web"]
    assert scripts(pipeline, "build-web") == ["export TAG=1", f'for name in web; do {K} --context "$name" '
                                              f'--destination "r/g/$name:$TAG"; done']


def test_literal_block_with_several_builds_is_cut_between_commands(tmp_path, write):
    text = f"""\
images:
  script:
    - |
      echo "start"
      # the first image
      {K} \\
        --destination r/g/a:1
      echo "built a"
      # the second image
      {K} --destination r/g/b:1
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"][1:] == ["build-a", "build-b"]
    a, b = scripts(pipeline, "build-a"), scripts(pipeline, "build-b")
    # the parts of one block join again into one entry
    assert a == [f'echo "start"\n# the first image\n{K} \\\n  --destination r/g/a:1\necho "built a"\n']
    assert b == [f'echo "start"\n# the second image\n{K} --destination r/g/b:1\n']


def test_trailing_commands_become_a_final_job_needing_every_build(tmp_path, write):
    text = f"""\
images:
  stage: build
  needs: [prepare]
  script:
    - cd images
    - {K} --destination r/g/a:1
    - {K} --destination r/g/b:1
    - ./notify.sh "both pushed"   # after both
prepare:
  script: [echo]
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"] == [".build-image", "build-a", "build-b", "images"]
    final = pipeline.jobs["images"]
    assert list(final.config["needs"]) == ["prepare", "build-a", "build-b"]
    assert scripts(pipeline, "images") == ["cd images", './notify.sh "both pushed"']
    assert scripts(pipeline, "build-b") == ["cd images", f"{K} --destination r/g/b:1"]
    assert list(pipeline.jobs["build-a"].config["needs"]) == ["prepare"]
    assert '    - ./notify.sh "both pushed"   # after both\n' in result.text


def test_state_between_builds_is_carried_into_later_jobs(tmp_path, write):
    text = f"""\
images:
  script:
    - {K} --destination r/g/a:$V
    - echo "a done"
    - export V=2
    - {K} --destination r/g/b:$V
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert scripts(pipeline, "build-a") == [f"{K} --destination r/g/a:$V", 'echo "a done"']
    assert scripts(pipeline, "build-b") == ["export V=2", f"{K} --destination r/g/b:$V"]


def test_reference_to_another_key_of_the_split_job_points_at_the_template(tmp_path, write):
    text = f"""\
images:
  before_script: [echo login]
  script:
    - {K} --destination r/g/a:1
    - {K} --destination r/g/b:1
other:
  before_script: !reference [images, before_script]
  script: [echo other]
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert "  before_script: !reference [.build-image, before_script]\n" in result.text
    assert scripts(pipeline, "build-a") == [f"{K} --destination r/g/a:1"]
    assert [str(s) for s in pipeline.jobs["other"].script_section("before_script")] == ["echo login"]


@pytest.mark.parametrize("script, why", [
    (f'    - for n in $IMAGES; do {K} --destination "r/g/$n:1"; done\n', "loop over `$IMAGES`"),
    (f'    - while read n; do {K} --destination "r/g/$n:1"; done < list\n', "while/until loop"),
    (f"    - {K} --destination r/g/a:1\n    - crane tag r/g/a:1 latest\n    - {K} --destination r/g/b:1\n",
     "runs between two builds"),
    (f"    - {K} --destination r/g/a:1 --digest-file d\n    - {K} --destination r/g/b:1\n    - cat d\n",
     "may read the file --digest-file writes"),
    (f"    - |\n      if true; then\n        {K} -d r/g/a:1\n        {K} -d r/g/b:1\n      fi\n",
     "shell control structures (if"),
])
def test_refused_with_the_construct_and_why(tmp_path, write, script, why):
    text = "images:\n  script:\n" + script
    result = fix_file(write(tmp_path, text))
    assert not result.changed, result.text
    assert why in result.refused["images"]


def test_users_that_make_it_refused(tmp_path, write):
    base = f"images:\n  script:\n    - {K} -d r/g/a:1\n    - {K} -d r/g/b:1\n"
    result = fix_file(write(tmp_path, base + "copy:\n  script: !reference [images, script]\n"))
    assert "uses !reference ['images', 'script']" in result.refused["images"]


def test_script_brought_in_by_a_merge_key(tmp_path, write):
    text = f"""\
.template: &template
  stage: build
  script:
    - {K} --destination r/g/a:1
    - {K} --destination r/g/b:1

images:
  <<: *template
  variables: {{X: "1"}}
"""
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["images"][1:] == ["build-a", "build-b"]
    assert scripts(pipeline, "build-b") == [f"{K} --destination r/g/b:1"]
    assert pipeline.jobs["build-a"].config["stage"] == "build"
    assert "  <<: *template\n" in result.text and result.text.count("&template") == 1


def test_script_from_an_included_template(tmp_path, write):
    write(tmp_path, f"""\
.kaniko:
  script:
    - {K} --destination r/g/a:1   # a
    - {K} --destination r/g/b:1   # b
""", "templates.yml")
    main = "include:\n  - local: templates.yml\n\nimages:\n  extends: .kaniko\n  stage: build\n"
    result, pipeline = fixed(tmp_path, write, main)
    assert result.fixed["images"][1:] == ["build-a", "build-b"]
    assert f"  script:\n    - {K} --destination r/g/b:1   # b\n" in result.text
    assert (tmp_path / "templates.yml").read_text().count("/kaniko/executor") == 2   # never edited


def test_final_job_keeps_the_quoted_name(tmp_path, write):
    text = f'"build: images":\n  script:\n    - {K} -d r/g/a:1\n    - {K} -d r/g/b:1\n    - ./notify.sh\n'
    result, pipeline = fixed(tmp_path, write, text)
    assert result.fixed["build: images"][-1] == "build: images"
    assert '\n"build: images":\n' in result.text
    assert list(pipeline.jobs["build: images"].config["needs"]) == ["build-a", "build-b"]
