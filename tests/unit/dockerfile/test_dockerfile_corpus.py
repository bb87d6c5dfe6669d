"""The corpus of real-world style Dockerfiles: all parse, plan, expand, and check as BuildKit would."""

import json
from pathlib import Path

import pytest

from mason.cli.main import main
from mason.dockerfile import Copy, Env, Run, check_dockerfile, parse_dockerfile, plan_stages

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "dockerfiles"
FILES = sorted(CORPUS.glob("*.Dockerfile"))

# BuildKit's build-check warnings for each file (rule, line); files not listed have none.
EXPECTED_WARNINGS = {
    "empty-continuation.Dockerfile": [("NoEmptyContinuation", 4)],
    "golang-distroless.Dockerfile": [("FromAsCasing", 1)],
    "json-edge.Dockerfile": [("JSONArgsRecommended", 5), ("MultipleInstructionsDisallowed", 5)],
    "legacy-style.Dockerfile": [("MaintainerDeprecated", 2), ("LegacyKeyValueFormat", 3), ("JSONArgsRecommended", 12)],
    "nginx-official.Dockerfile": [("LegacyKeyValueFormat", 5), ("LegacyKeyValueFormat", 6), ("LegacyKeyValueFormat", 7)],
    "node-app.Dockerfile": [("LegacyKeyValueFormat", 21)],
    "postgres-like.Dockerfile": [("LegacyKeyValueFormat", n) for n in (13, 14, 15, 16)],
    "redis-alpine.Dockerfile": [("LegacyKeyValueFormat", n) for n in (16, 17, 18)],
    "windows-backtick.Dockerfile": [("LegacyKeyValueFormat", 5)],
}


def test_corpus_is_big_enough():
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_parses_plans_and_expands(path):
    text = path.read_text(encoding="utf-8")
    df = parse_dockerfile(text, file=path.name)
    plan = plan_stages(df, target_platform="linux/arm64", build_platform="linux/amd64")
    for stage in plan.stages:
        assert stage.base
        scope = plan.scope(stage, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        for instruction in stage.instructions:
            _, scope = scope.apply(instruction)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_corpus_check_matches_buildkit(path):
    diagnostics = check_dockerfile(path.read_text(encoding="utf-8"), file=path.name)
    assert [d for d in diagnostics if d.severity == "error"] == []
    assert [(d.rule, d.line) for d in diagnostics] == EXPECTED_WARNINGS.get(path.name, [])


def corpus(name):
    return parse_dockerfile((CORPUS / name).read_text(encoding="utf-8"), file=name)


def test_windows_backtick_file():
    df = corpus("windows-backtick.Dockerfile")
    assert df.escape == "`"
    run = [i for i in df.instructions if isinstance(i, Run)][0]
    assert "setx /M PATH $newPath" in run.command[0] and "`" not in run.command[0]
    copy = [i for i in df.instructions if isinstance(i, Copy)]
    assert copy[0].dest == "c:\\" and copy[1].expand({}).dest == "C:\\app\\"


def test_crlf_bom_file():
    df = corpus("crlf-bom.Dockerfile")
    assert df.instructions[1].command == ("echo one   && echo two",)


def test_params_expansion_file():
    df = corpus("params-expansion.Dockerfile")
    plan = plan_stages(df)
    scope = plan.scope(plan.stages[0])
    for instruction in plan.stages[0].instructions:
        expanded, scope = scope.apply(instruction)
        if isinstance(expanded, Env):
            break
    env = scope.expansion_env()
    assert (env["MAJOR"], env["NO_SUFFIX"], env["FILE"], env["DIR"], env["DASHED"], env["FIRST"]) == (
        "1", "1.2.3", "tool-v1.2.3.tar.gz", "/downloads", "1-2-3-beta-4", "1_2.3-beta.4")


def test_arg_scoping_file_env_wins():
    plan = plan_stages(corpus("arg-scoping.Dockerfile"), build_args={"TAG": "3.19", "EXTRA": "cli"})
    assert plan.stages[0].base == "busybox:3.19"
    scope = plan.scope(plan.stages[1])
    for instruction in plan.stages[1].instructions:
        _, scope = scope.apply(instruction)
    assert scope.run_env()["EXTRA"] == "from-env"


def test_cli_parse_json(capsys):
    assert main(["dockerfile", "parse", "--json", str(CORPUS / "heredoc-scripts.Dockerfile")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["directives"] == {"syntax": "docker/dockerfile:1.7"}
    run = data["instructions"][1]
    assert run["cmd"] == "run" and run["heredocs"][0]["name"] == "EOF" and run["heredocs"][0]["expand"] is True
    motd = data["instructions"][4]
    assert motd["heredocs"][0] == {"name": "EOF", "content": "\tWelcome to $HOSTNAME (not expanded)\n",
                                   "expand": False, "chomp": True}


def test_cli_parse_text(capsys):
    assert main(["dockerfile", "parse", str(CORPUS / "go-multistage.Dockerfile")]) == 0
    assert capsys.readouterr().out.startswith("(arg \"GO_VERSION=1.22\")\n(from [\"--platform=$BUILDPLATFORM\"] ")


def test_cli_parse_accepts_what_buildkits_parser_accepts(tmp_path, capsys):
    """Instruction-layer errors are for check/build: the parser takes them (BuildKit's does)."""
    f = tmp_path / "Dockerfile"
    f.write_text("CMD x\nFROM a\nCOPY --nope=1 a b\nHEALTHCHECK\n")
    assert main(["dockerfile", "parse", str(f)]) == 0
    assert capsys.readouterr().out == '(cmd "x")\n(from "a")\n(copy ["--nope=1"] "a" "b")\n(healthcheck)\n'
    assert main(["dockerfile", "check", str(f)]) == 1
    out = capsys.readouterr().out
    assert "unknown flag: --nope" in out and "HEALTHCHECK" in out


def test_cli_check_reports_errors_with_locations(tmp_path, capsys):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM alpine\nRUN --bogus x\nWROKDIR /x\nENV a b\n")
    assert main(["dockerfile", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:1: error: RUN: unknown flag: --bogus" in out
    assert f"{bad}:3:1: error: unknown instruction: WROKDIR" in out and "did you mean WORKDIR?" in out
    assert f"{bad}:4:1: warning:" in out and "2 error(s), 1 warning(s)" in out


def test_cli_check_unused_build_arg(tmp_path, capsys):
    f = tmp_path / "Dockerfile"
    f.write_text("FROM alpine\n")
    assert main(["dockerfile", "check", "--build-arg", "NOPE=1", str(f)]) == 0
    assert "build-args [NOPE] were not consumed" in capsys.readouterr().out


def test_cli_missing_file(capsys):
    assert main(["dockerfile", "parse", "/nonexistent/Dockerfile"]) == 2
    assert "cannot read Dockerfile" in capsys.readouterr().err


def test_cli_parse_error_exit_code(tmp_path, capsys):
    f = tmp_path / "Dockerfile"
    f.write_text("FROM a\nRUN <<EOF\nno end\n")
    assert main(["dockerfile", "parse", str(f)]) == 1
    assert f"{f}:2: unterminated heredoc" in capsys.readouterr().err
