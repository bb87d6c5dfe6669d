"""The command a heredoc RUN runs, as BuildKit's dispatchRun builds it."""

import pytest

from mason.dockerfile import parse_dockerfile
from mason.executor.steps.run import command_argv

SHELL = ["/bin/sh", "-c"]


def run_of(text):
    return parse_dockerfile("FROM a\n" + text).instructions[-1]


@pytest.mark.parametrize("dash, body", [("", "echo \"\n\tfoo\"\n"), ("-", "echo \"\nfoo\"\n")])
def test_lone_heredoc_is_the_script_and_dash_strips_tabs(dash, body):
    ins = run_of(f"RUN <<{dash}EOF\necho \"\n\tfoo\"\nEOF\n")
    assert command_argv(SHELL, ins) == [*SHELL, body]


def test_lone_shebang_heredoc_runs_the_file():
    ins = run_of("RUN <<-EOF\n#!/bin/sh\n\techo hi\nEOF\n")
    assert command_argv(SHELL, ins) == ["/dev/pipes/EOF"]
    assert ins.heredocs[0].body() == "#!/bin/sh\necho hi\n"


def test_complex_heredoc_goes_to_the_shell_as_written():
    ins = run_of("RUN <<-EOF sh > /out\n\techo hi\nEOF\n")
    assert command_argv(SHELL, ins) == [*SHELL, "<<-EOF sh > /out\n\techo hi\nEOF"]
