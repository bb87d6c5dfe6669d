"""``mason`` alone is a usage error (usage on stderr, exit 2); ``mason --version`` prints the
version, as ``mason version`` does; ``mason --help`` is not an error."""

from __future__ import annotations

import subprocess
import sys

from mason import __version__


def _mason(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mason", *args], capture_output=True, text=True, timeout=60)


def test_no_arguments_prints_usage_and_exits_2():
    proc = _mason()
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: mason") and "build" in proc.stderr
    assert proc.stdout == ""


def test_version_flag_and_command_agree():
    flag, command = _mason("--version"), _mason("version")
    assert flag.returncode == 0 and command.returncode == 0
    assert flag.stdout.strip() == command.stdout.strip() == f"mason {__version__}"


def test_help_is_not_an_error():
    proc = _mason("--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: mason")


_IMPORTED = """
import sys
from mason.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith("mason"))))
"""


def test_version_and_help_import_no_subcommand():
    # start-up: with no subcommand on the line, no subcommand module (and none of the
    # dataclasses behind mason.errors) is imported just to print the version or the command list
    for flag in ("--version", "--help"):
        proc = subprocess.run([sys.executable, "-c", _IMPORTED, flag], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        imported = proc.stdout.strip().splitlines()[-1].split()
        assert imported == ["mason", "mason.cli", "mason.cli.main"], (flag, imported)


def test_help_lists_every_command_with_its_help_line():
    from mason.cli.main import COMMANDS

    out = " ".join(_mason("--help").stdout.split())
    for name, (_module, help_text) in COMMANDS.items():
        assert f"{name} {help_text}" in out, name
