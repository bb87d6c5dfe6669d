import pytest

from mason.ci.invocation import classify, expand, find_invocations, kebab, parse_flags
from mason.ci.located import LocStr


def flags(*args):
    return [(f.name, f.value) for f in parse_flags(list(args))[0]]


def test_flag_forms():
    assert flags("--cache=true", "--context", "dir", "-d", "r/a:1", "-dr/b:1", "-f=Dockerfile.x", "--cleanup",
                 "--cache-repo=r/c") == [
        ("cache", "true"), ("context", "dir"), ("destination", "r/a:1"), ("destination", "r/b:1"),
        ("dockerfile", "Dockerfile.x"), ("cleanup", None), ("cache-repo", "r/c")]


def test_boolean_flag_does_not_eat_the_next_word():
    parsed, positional = parse_flags(["--no-push", "extra"])
    assert [(f.name, f.value) for f in parsed] == [("no-push", None)]
    assert positional == ("extra",)


def test_camel_case_aliases():
    assert kebab("snapshotMode") == "snapshot-mode"
    assert flags("--snapshotMode=redo", "--cacheRepo", "r/c") == [("snapshot-mode", "redo"), ("cache-repo", "r/c")]


@pytest.mark.parametrize("argv,expected", [
    (["/kaniko/executor", "--cache"], ("/kaniko/executor", "kaniko", 1)),
    (["executor", "-d", "x"], ("executor", "kaniko", 1)),
    (["exec", "/kaniko/executor"], ("/kaniko/executor", "kaniko", 2)),
    (["FOO=1", "/kaniko/executor"], ("/kaniko/executor", "kaniko", 2)),
    (["mason", "build", "--cache"], ("mason build", "mason", 2)),
    (["/mason/bin/mason", "executor"], ("/mason/bin/mason executor", "mason", 2)),
    (["mason", "bake"], None),
    (["echo", "/kaniko/executor"], None),
    (["ls"], None),
])
def test_classify(argv, expected):
    assert classify(argv) == expected


def test_variables_expand_and_unquoted_ones_split():
    entry = LocStr('/kaniko/executor $ARGS "--destination=$DEST" --context $UNKNOWN', "f.yml", 7)
    [inv] = find_invocations([entry], "script", {"ARGS": "--cache=true --no-push", "DEST": "r/x:1"})
    assert inv.cache_enabled and inv.boolean("no-push")
    assert inv.destinations == ["r/x:1"]
    assert inv.values("context") == ["$UNKNOWN"]
    assert (inv.file, inv.line) == ("f.yml", 7)


def test_cache_false_and_undecidable_cache():
    entries = [LocStr("/kaniko/executor --cache=false", "f", 1), LocStr("executor --cache=$MAYBE", "f", 2),
               LocStr("executor --cache --cache=false --cache=1", "f", 3)]
    invs = find_invocations(entries, "script", {})
    assert [i.boolean("cache") for i in invs] == [False, None, True]


def test_line_of_each_call_in_a_literal_block():
    entry = LocStr("echo start\n/kaniko/executor --cache \\\n  -d r/a\nexecutor -d r/b\n", "f.yml", 10)
    invs = find_invocations([entry], "script", {})
    assert [(i.line, i.destinations) for i in invs] == [(11, ["r/a"]), (13, ["r/b"])]


def test_expand_is_bounded_and_recursive():
    assert expand("$A", {"A": "${B}x", "B": "y"}) == "yx"
    assert expand("$A", {"A": "$A"}) == "$A"
