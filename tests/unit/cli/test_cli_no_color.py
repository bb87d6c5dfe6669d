"""NO_COLOR (https://no-color.org): set and not empty, mason writes no colour codes, on the
line reporter and on the live view alike; empty or unset, a terminal gets colours."""

from __future__ import annotations

import io
import re

import pytest

from mason.cli.render import OutputSettings, make_reporter
from mason.executor.events import Warn

SGR_COLOR = re.compile(r"\x1b\[\d+m")


class Tty(io.StringIO):
    def isatty(self):
        return True


def _output(env: dict[str, str], progress: str) -> str:
    stream = Tty()
    reporter = make_reporter(OutputSettings(log_format="color", progress=progress), stream=stream, output=stream,
                             env=env, width=lambda: 80)
    try:
        reporter.emit(Warn("something to look at"))
    finally:
        reporter.close()
    return stream.getvalue()


@pytest.mark.parametrize("progress", ["plain", "auto"])
def test_no_color_removes_colours(progress):
    coloured = _output({}, progress)
    assert "something to look at" in coloured and SGR_COLOR.search(coloured)
    plain = _output({"NO_COLOR": "1"}, progress)
    assert "something to look at" in plain
    assert not SGR_COLOR.search(plain), repr(plain)


def test_empty_no_color_is_unset():
    assert SGR_COLOR.search(_output({"NO_COLOR": ""}, "plain"))
