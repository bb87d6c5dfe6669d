"""As a program, mason pauses the cyclic collector during start-up and resumes it (with what
start-up made frozen) once its imports are done; called as a function it leaves it alone."""

from __future__ import annotations

import argparse
import gc
import io
import subprocess
import sys

from mason.cli import build_cmd
from mason.errors import BuildError

_PROGRAM = """
import gc, sys
from mason.cli import main as cli

seen = []
real_run = cli.importlib.import_module("mason.cli.version_cmd").run
def run(args):
    seen.append(gc.isenabled())
    return real_run(args)
cli.importlib.import_module("mason.cli.version_cmd").run = run
before = gc.isenabled()
code = cli.main(["version"], owns_process=True)
print(before, seen, gc.isenabled(), gc.get_freeze_count() > 0, code)
"""


def test_program_resumes_the_collector_before_a_plain_command_runs():
    proc = subprocess.run([sys.executable, "-c", _PROGRAM], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # enabled before; enabled again (start-up frozen) by the time the command runs; enabled after
    assert proc.stdout.strip().splitlines()[-1] == "True [True] True True 0"


def test_a_function_call_leaves_the_collector_alone():
    from mason.cli.main import main

    frozen = gc.get_freeze_count()
    assert main(["version"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_build_resumes_the_collector_once_the_executor_is_chosen(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nENV A=1\n")
    calls = []

    def imports_done():
        calls.append("done")

    def executor(options, *, reporter, env):
        calls.append("build")
        raise BuildError("the fake executor stops here")

    args = argparse.Namespace(kaniko_argv=["-c", str(tmp_path), "--no-push"], _imports_done=imports_done)
    code = build_cmd.run(args, executor=executor, env={"CI": "true"}, cwd=tmp_path, stdin=io.BytesIO(),
                         stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 1
    assert calls == ["done", "build"]


def test_a_build_that_fails_early_still_resumes_the_collector():
    # main's finally resumes it whatever happens in the command (here a usage error)
    code = subprocess.run([sys.executable, "-c", "import gc; from mason.cli.main import main; "
                           "c = main(['build', '--no-such-flag'], owns_process=True); "
                           "print(gc.isenabled(), c)"], capture_output=True, text=True, timeout=60)
    assert code.stdout.strip().splitlines()[-1] == "True 2", code.stderr
