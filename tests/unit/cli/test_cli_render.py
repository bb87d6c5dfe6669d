"""Renderers: reporter choice, control-code stripping, the live view, docs that cannot drift."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from mason import errors
from mason.executor import events as ev
from mason.cli.flag_docs import EXIT_CODES, render
from mason.cli.render import OutputSettings, make_reporter
from mason.cli.render.live import LiveView
from mason.cli.render.logline import LogReporter, strip_controls

DOCS = Path(__file__).resolve().parents[3] / "docs" / "cli.md"


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("env, progress, fmt, kind", [
    ({}, "auto", "color", LiveView),
    ({"CI": "true"}, "auto", "color", LogReporter),
    ({"TERM": "dumb"}, "auto", "color", LogReporter),
    ({}, "plain", "color", LogReporter),
    ({}, "auto", "json", LogReporter),
])
def test_reporter_choice_on_a_terminal(env, progress, fmt, kind):
    reporter = make_reporter(OutputSettings(log_format=fmt, progress=progress), stream=Tty(), output=Tty(),
                             env=env, width=lambda: 80)
    try:
        assert type(reporter) is kind
    finally:
        reporter.close()


def test_never_live_or_colored_without_a_tty():
    for fmt in ("color", "text"):
        reporter = make_reporter(OutputSettings(log_format=fmt), stream=io.StringIO(), output=io.StringIO(), env={})
        assert type(reporter) is LogReporter and reporter.format == "text"


@pytest.mark.parametrize("raw, clean", [
    ("\x1b[1;31mred\x1b[0m", "red"),
    ("a\tb", "a\tb"),
    ("50%\r100%", "100%"),
    ("\x1b]0;title\x07text", "text"),
    ("bell\x07 and \x00nul", "bell and nul"),
    ("plain", "plain"),
])
def test_strip_controls(raw, clean):
    assert strip_controls(raw) == clean


def test_text_lines_are_kaniko_shaped():
    out = io.StringIO()
    ticks = iter([100.0, 103.7])
    log = LogReporter(out, clock=lambda: next(ticks))
    log.emit(ev.Warn("careful\nsecond line"))
    assert out.getvalue() == "WARN[0003] careful\nWARN[0003] second line\n"


def test_reporter_is_thread_safe():
    out = io.StringIO()
    log = LogReporter(out)

    def spam(n):
        for i in range(200):
            log.emit(ev.Info(f"thread {n} line {i}"))

    threads = [threading.Thread(target=spam, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 800 and all(line.startswith("INFO[") and " line " in line for line in lines)


def test_live_view_steps_transfers_and_final_frame():
    out = Tty()
    now = [0.0]
    view = LiveView(out, width=lambda: 80, clock=lambda: now[0], ticker=False)
    view.emit(ev.StepStarted("1/2", "0", "RUN make all", "Dockerfile:3"))
    view.emit(ev.StepStarted("1/3", "0", "COPY . /src", "Dockerfile:4"))
    view.emit(ev.Transfer("pull", "busybox", "sha256:" + "b" * 64, 5_000_000, 10_000_000))
    now[0] = 2.0
    view.emit(ev.StepFinished("1/3", 0.5, cache="hit"))
    lines = view.lines()
    assert lines[0].startswith("⠋ [1/2] RUN make all") and lines[0].endswith("2.0s") and len(lines[0]) == 80
    assert lines[1].startswith("⚡ [1/3] COPY . /src") and "CACHED" in lines[1]
    assert "pull sha256:bbbb" in lines[2] and "[##########----------]" in lines[2] and "5.0 MB/10.0 MB" in lines[2]
    view.emit(ev.Info("a message"))
    view.close()
    text = out.getvalue()
    assert "a message" in text and "\x1b[3F\x1b[J" in text    # view cleared, message above, view redrawn
    assert view.lines(final=True)[0].startswith("… [1/2]")


def test_live_view_ticker_stops():
    view = LiveView(Tty(), width=lambda: 80, interval=0.01)
    view.emit(ev.StepStarted("1/1", "0", "RUN sleep 1", "Dockerfile:2"))
    view.close()
    assert not view._thread.is_alive()


def test_docs_cli_md_is_generated_from_the_table():
    assert DOCS.read_text(encoding="utf-8") == render(), "regenerate: python -m mason.cli.flag_docs > docs/cli.md"


def test_documented_exit_codes_match_the_errors():
    documented = {code: errs for code, _, errs in EXIT_CODES}
    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.MasonError) and cls is not errors.MasonError:
            assert name in documented[cls.exit_code], (name, cls.exit_code)
    from mason.cli.build_cmd import EXIT_INTERNAL
    assert EXIT_INTERNAL == 4 and 4 in documented and 130 in documented
