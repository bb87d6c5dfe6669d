from pathlib import Path

import pytest

from mason.bake import load_bake, parse_bake
from mason.errors import UsageError

GOOD = """\
version: 1
defaults:            # merged into every image
  cache: true
  cache_repo: registry.example.com/group/cache
  build_args: {GO_VERSION: "1.22", SHARED: "d"}
  labels: {team: infra}
images:
  image-a:
    context: .
    dockerfile: a/Dockerfile
    destinations: [registry.example.com/group/image-a:latest]
    build_args: {K: V, SHARED: "a"}
    target: final
    platform: linux/amd64
    labels: {k: v}
    depends_on: [base]
  base:
    context: base
    destinations: [registry.example.com/group/base:1]
    cache: false
  tool:
    no_push: true
"""


def test_valid_file_merges_defaults(tmp_path):
    path = tmp_path / "mason.bake.yml"
    path.write_text(GOOD)
    bake = load_bake(path)
    a = bake.images["image-a"]
    assert a.build_args == {"GO_VERSION": "1.22", "SHARED": "a", "K": "V"}
    assert a.labels == {"team": "infra", "k": "v"}
    assert (a.cache, a.cache_repo, a.target, a.platform) == (True, "registry.example.com/group/cache", "final",
                                                              "linux/amd64")
    assert a.destinations == ("registry.example.com/group/image-a:latest",) and a.depends_on == ("base",)
    assert a.line == 8
    assert bake.images["base"].cache is False  # the image's own key wins over defaults
    assert bake.images["tool"].dockerfile == "Dockerfile" and bake.images["tool"].context == "."
    assert bake.dockerfile_path("image-a") == tmp_path / "a" / "Dockerfile"
    assert bake.context_dir("base") == tmp_path / "base"
    assert bake.levels() == [["base", "tool"], ["image-a"]]
    assert bake.order() == ["base", "tool", "image-a"]
    assert type(a.build_args["K"]) is str


@pytest.mark.parametrize("old,new,message", [
    ("    target: final", "    targte: final", "mason.bake.yml:13: images.image-a: unknown key 'targte' (did you mean 'target'?)"),
    ("defaults:            # merged into every image", "defaults:\n  destinations: [x]", "mason.bake.yml:3: defaults: unknown key 'destinations'"),
    ("version: 1", "version: 1\nextra: 1", "mason.bake.yml:2: unknown key 'extra'"),
    ("version: 1", "version: 2", "mason.bake.yml:1: version: unsupported bake file version 2"),
    ("version: 1\n", "", "missing 'version'"),
    ("depends_on: [base]", "depends_on: [bsae]", "mason.bake.yml:8: image 'image-a' depends on unknown image 'bsae'"),
    ("    cache: false", "    cache: false\n    depends_on: [image-a]", "dependency cycle: "),
    ("depends_on: [base]", "depends_on: [image-a]", "dependency cycle: image-a -> image-a"),
    ('GO_VERSION: "1.22"', "GO_VERSION: 1.20", "defaults.build_args.GO_VERSION must be a string"),
    ("    cache: false", "    cache: 'no'", "images.base.cache must be true or false"),
    ("destinations: [registry.example.com/group/base:1]", "destinations: registry.example.com/group/base:1",
     "images.base.destinations must be a list"),
    ("destinations: [registry.example.com/group/base:1]", "destinations: [registry.example.com/group/image-a:latest]",
     "both push registry.example.com/group/image-a:latest"),
    ("    no_push: true", "    platform: linux/arm64", "image 'tool' has no destinations"),
    ("  image-a:", "  'bad name':", "image name 'bad name'"),
    ("dockerfile: a/Dockerfile", "dockerfile: /abs/Dockerfile", "must be relative to the context"),
    ("    target: final", "    target: final\n    target: again", "invalid YAML"),
])
def test_invalid_files_are_errors_naming_line_and_key(old, new, message):
    assert old in GOOD
    with pytest.raises(UsageError) as info:
        parse_bake(GOOD.replace(old, new, 1), Path("mason.bake.yml"))
    assert message in str(info.value)


def test_cycle_names_the_whole_cycle():
    text = ("version: 1\nimages:\n  a: {no_push: true, depends_on: [b]}\n  b: {no_push: true, depends_on: [c]}\n"
            "  c: {no_push: true, depends_on: [a]}\n")
    with pytest.raises(UsageError, match=r"dependency cycle: a -> b -> c -> a"):
        parse_bake(text)


def test_missing_file(tmp_path):
    with pytest.raises(UsageError, match="no such bake file"):
        load_bake(tmp_path / "nope.yml")
