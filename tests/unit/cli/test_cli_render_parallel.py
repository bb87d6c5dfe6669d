"""Output of parallel stages: RUN lines tagged with their step only while steps overlap,
multi-line messages never split by another thread's line, and the --stage-jobs flag."""

from __future__ import annotations

import io
import threading

import pytest

from mason.executor import events as ev
from mason.cli.kaniko_flags import parse_argv
from mason.cli.build_mapping import build_options, open_context
from mason.cli.render.live import LiveView
from mason.cli.render.logline import LogReporter
from mason.errors import UsageError


def test_run_output_is_bare_with_one_step_and_tagged_while_steps_overlap():
    out = io.StringIO()
    log = LogReporter(out)
    log.emit(ev.StepStarted("1/1", "a", "RUN make", "Dockerfile:2"))
    log.emit(ev.StepOutput("1/1", "compiling"))
    log.emit(ev.StepStarted("2/1", "b", "RUN test", "Dockerfile:4"))
    log.emit(ev.StepOutput("2/1", "testing"))
    log.emit(ev.StepOutput("1/1", "linking"))
    log.emit(ev.StepFinished("1/1", 1.0))
    log.emit(ev.StepOutput("2/1", "passed"))
    run_lines = [line for line in out.getvalue().splitlines() if not line.startswith("INFO[")]
    assert run_lines == ["compiling", "[2/1] testing", "[1/1] linking", "passed"]


def test_live_view_tags_overlapping_run_output_too():
    out = io.StringIO()
    view = LiveView(out, ticker=False)
    view.emit(ev.StepStarted("1/1", "a", "RUN make", "Dockerfile:2"))
    view.emit(ev.StepStarted("2/1", "b", "RUN test", "Dockerfile:4"))
    view.emit(ev.StepOutput("2/1", "testing"))
    view.close()
    assert "[2/1] testing\n" in out.getvalue()


def test_a_multi_line_message_is_written_whole():
    """Each event's lines go out in one write under the lock: another thread's line can come
    before or after a multi-line warning, never inside it."""
    writes = []

    class Recorder(io.StringIO):
        def write(self, text):
            writes.append(text)
            return len(text)

    log = LogReporter(Recorder())
    stop = threading.Event()

    def chatter():
        while not stop.is_set():
            log.emit(ev.Info("other stage"))

    thread = threading.Thread(target=chatter)
    thread.start()
    try:
        for _ in range(200):
            log.emit(ev.Warn("first line\nsecond line\nthird line"))
    finally:
        stop.set()
        thread.join()
    whole = [w for w in writes if "first line" in w]
    assert len(whole) == 200
    assert all("second line" in w and "third line" in w and "other stage" not in w for w in whole)


@pytest.fixture
def ctx(tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    return context, tmp_path


def _options(argv, ctx):
    context, cwd = ctx
    parsed = parse_argv(["-c", str(context), "--no-push", *argv])
    with open_context(parsed, cwd=cwd, env={}) as context_dir:
        return build_options(parsed, context_dir, env={}, cwd=cwd, stdin=None).options


def test_stage_jobs_flag(ctx):
    assert _options([], ctx).stage_jobs is None                 # one per CPU
    assert _options(["--stage-jobs=0"], ctx).stage_jobs is None
    assert _options(["--stage-jobs", "1"], ctx).stage_jobs == 1
    assert _options(["--stage-jobs=3"], ctx).stage_jobs == 3
    with pytest.raises(UsageError, match="--stage-jobs=-2"):
        _options(["--stage-jobs=-2"], ctx)
