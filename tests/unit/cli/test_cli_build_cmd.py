"""``mason build`` end to end with a fake executor: outputs, digest files, metadata, exit codes."""

from __future__ import annotations

import argparse
import io
import json
import re
from dataclasses import dataclass, field

import pytest

from mason.executor import events as ev
from mason.cli import build_cmd
from mason.errors import AuthError, BuildError, SourceRange

IMAGE = "sha256:" + "a" * 64
CONFIG = "sha256:" + "c" * 64
LAYER = "sha256:" + "1" * 64
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class Step:
    step_id: str
    instruction: str
    location: str
    cache: str
    seconds: float
    layer_digest: str | None
    layer_size: int | None


@dataclass
class Result:
    image_digest: str
    config_digest: str
    pushed: list
    steps: list = field(default_factory=list)


class FakeExecutor:
    """Records the options and plays a short build through the reporter."""

    def __init__(self, fail: Exception | None = None):
        self.calls = []
        self.fail = fail

    def __call__(self, options, *, reporter, env):
        self.calls.append((options, env))
        reporter.emit(ev.StageStarted("0", "busybox"))
        reporter.emit(ev.StepStarted("1/1", "0", "RUN echo hi", "Dockerfile:2"))
        reporter.emit(ev.StepOutput("1/1", "\x1b[32mhi\x1b[0m there\x07"))
        reporter.emit(ev.Transfer("push", "r.example/app", LAYER, 10, 100))
        if self.fail:
            raise self.fail
        reporter.emit(ev.StepFinished("1/1", 0.25, cache="miss", layer_digest=LAYER, layer_size=2048))
        pushed = [(d, IMAGE) for d in options.destinations] if not options.no_push else []
        for ref, digest in pushed:
            reporter.emit(ev.Pushed(ref, digest))
        reporter.emit(ev.BuildFinished(IMAGE, CONFIG, 1.5))
        return Result(IMAGE, CONFIG, pushed, [Step("1/1", "RUN echo hi", "Dockerfile:2", "miss", 0.25, LAYER, 2048)])


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo hi\n")
    return tmp_path


def run(argv, context, env=None, executor=None):
    out, err = io.StringIO(), io.StringIO()
    executor = executor or FakeExecutor()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=["-c", str(context), *argv]), executor=executor,
                         env={"CI": "true"} if env is None else env, cwd=context, stdin=io.BytesIO(),
                         stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue(), executor


def test_ci_build_plain_output_and_kaniko_files(context):
    code, out, err, executor = run(["-d", "r.example:5000/app:1", "--destination=alpine", "--cache=true",
                                    "--digest-file=out/digest", "--image-name-with-digest-file=out/names",
                                    "--image-name-tag-with-digest-file=out/tags",
                                    "--metadata-file=out/meta.json"], context)
    assert code == 0, err
    options, env = executor.calls[0]
    assert options.destinations == ("r.example:5000/app:1", "alpine") and env == {"CI": "true"}
    assert not CONTROL.search(out + err.replace("\n", ""))
    assert "\x1b" not in out + err
    assert "hi there" in out.splitlines()            # RUN output, control codes removed
    lines = err.splitlines()
    assert all(re.match(r"(INFO|WARN|DEBU|ERRO)\[\d{4}\] ", line) for line in lines), lines
    assert any(line.endswith("[1/1] RUN echo hi") for line in lines)
    assert any(f"pushed: r.example:5000/app:1@{IMAGE}" in line for line in lines)
    assert any(re.search(r"1/1\s+RUN echo hi\s+miss\s+0\.2s\s+2\.0 kB", line) for line in lines)
    assert (context / "out/digest").read_text() == IMAGE
    assert (context / "out/names").read_text() == (f"r.example:5000/app@{IMAGE}\n"
                                                   f"index.docker.io/library/alpine@{IMAGE}\n")
    assert (context / "out/tags").read_text() == (f"r.example:5000/app:1@{IMAGE}\n"
                                                  f"index.docker.io/library/alpine:latest@{IMAGE}\n")
    meta = json.loads((context / "out/meta.json").read_text())
    assert meta["containerimage.digest"] == IMAGE and meta["containerimage.config.digest"] == CONFIG
    assert meta["image.name"] == "r.example:5000/app:1,alpine"
    assert meta["mason.destinations"][1] == {"reference": "alpine", "digest": IMAGE,
                                             "name_with_digest": f"index.docker.io/library/alpine@{IMAGE}"}
    assert meta["mason.steps"] == [{"step_id": "1/1", "instruction": "RUN echo hi", "location": "Dockerfile:2",
                                    "cache": "miss", "seconds": 0.25, "layer_digest": LAYER, "layer_size": 2048}]


def test_json_lines_parse(context):
    code, out, err, _ = run(["--no-push", "--log-format=json", "-v", "trace", "--cleanup"], context)
    assert code == 0
    records = [json.loads(line) for line in err.splitlines()]
    assert all({"level", "msg", "time"} <= set(r) for r in records)
    by_event = {r.get("event"): r for r in records}
    assert by_event["StepStarted"]["step_id"] == "1/1" and by_event["StepStarted"]["location"] == "Dockerfile:2"
    assert by_event["StepOutput"]["msg"] == "hi there"
    assert by_event["Transfer"]["level"] == "trace" and by_event["Transfer"]["done"] == 10
    assert records[-1]["msg"] == "build summary" and records[-1]["summary"]["containerimage.digest"] == IMAGE
    assert any(r["msg"].startswith("--cleanup accepted") for r in records)
    assert out == ""


def test_a_json_error_line_has_its_location_and_hint_as_fields(context):
    fail = BuildError("Dockerfile:2: EXPOSE: port out of range", hint="use a port below 65536",
                      source=SourceRange("Dockerfile", 2, 3))
    code, _, err, _ = run(["--no-push", "--log-format=json"], context, executor=FakeExecutor(fail=fail))
    assert code == 1
    error = [r for r in map(json.loads, err.splitlines()) if r["level"] == "error"][-1]
    assert error["location"] == {"file": "Dockerfile", "start_line": 2, "end_line": 3}
    assert error["hint"] == "use a port below 65536" and error["error"] == "BuildError"
    unlocated = run(["--no-push", "--log-format=json"], context, executor=FakeExecutor(fail=BuildError("boom")))[2]
    error = [r for r in map(json.loads, unlocated.splitlines()) if r["level"] == "error"][-1]
    assert error["location"] is None and error["hint"] is None


def test_timestamps_and_verbosity(context):
    code, _, err, _ = run(["--no-push", "--log-timestamp", "--log-format=text"], context)
    assert code == 0 and re.match(r"INFO\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d\] ", err)
    code, out, err, _ = run(["--no-push", "--verbosity=warn"], context)
    assert code == 0 and err == "" and "hi there" in out


def test_color_only_on_a_terminal(context):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=["-c", str(context), "--no-push", "--progress=plain"]),
                         executor=FakeExecutor(), env={}, cwd=context, stdout=io.StringIO(), stderr=err)
    assert code == 0 and "\x1b[36mINFO\x1b[0m[" in err.getvalue()
    err = Tty()
    build_cmd.run(argparse.Namespace(kaniko_argv=["-c", str(context), "--no-push"]),
                  executor=FakeExecutor(), env={"CI": "1"}, cwd=context, stdout=io.StringIO(), stderr=err)
    assert "\x1b" not in err.getvalue()


@pytest.mark.parametrize("error, code, text", [
    (AuthError("push permission denied for r.example/app", status=403,
               hint="check the auths entry for r.example in $DOCKER_CONFIG/config.json"), 3, "push permission denied"),
    (BuildError("RUN exited with code 2 (Dockerfile:2)"), 1, "RUN exited with code 2"),
    (RuntimeError("boom"), 4, "internal error: RuntimeError: boom"),
])
def test_errors_render_and_exit_codes(context, error, code, text):
    got, _, err, _ = run(["--no-push"], context, executor=FakeExecutor(fail=error))
    assert got == code
    assert re.search(r"ERRO\[\d{4}\] " + re.escape(text), err)
    assert ("hint: " in err) == (code != 1)
    assert not (context / "out").exists()


def test_usage_errors_raise_before_building(context):
    from mason.errors import UsageError
    executor = FakeExecutor()
    with pytest.raises(UsageError, match="did you mean --destination"):
        run(["--destinatin=x"], context, executor=executor)
    with pytest.raises(UsageError, match="you must provide --destination"):
        run([], context, executor=executor)
    assert executor.calls == []


def test_help_lists_every_flag(context):
    from mason.cli.kaniko_flags import FLAGS
    code, out, err, executor = run(["--help"], context)
    assert code == 0 and executor.calls == []
    for spec in FLAGS:
        assert f"--{spec.name}" in out
    assert "--snapshotMode" in out and "-d, --destination" in out


def test_configure_leaves_kaniko_words_to_us():
    parser = argparse.ArgumentParser(prog="mason")
    sub = parser.add_subparsers(dest="command")
    build_cmd.configure(sub.add_parser("build"))
    build_cmd.configure(sub.add_parser("executor"))
    argv = ["-dreg/app:1", "--cache", "--no-push=false", "-f", "x", "--help"]
    for name in ("build", "executor"):
        args = parser.parse_args([name, *argv])
        assert args.kaniko_argv == argv and args.command == name


def test_two_builds_in_one_process_do_not_share_settings(context):
    a = run(["-d", "r.example/a:1", "--build-arg=X=1", "--label=l=a"], context)[3].calls[0][0]
    b = run(["-d", "r.example/b:1"], context)[3].calls[0][0]
    assert dict(b.build_args) == {} and dict(b.labels) == {} and b.destinations == ("r.example/b:1",)
    assert dict(a.build_args) == {"X": "1"}
