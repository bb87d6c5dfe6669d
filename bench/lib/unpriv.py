"""mason-unpriv: the `mason` tool's very command, run as in an unprivileged container.

Each build goes through ``tests/support/unpriv_exec.py``, the harness the test suite uses:
Docker's default capabilities only, NoNewPrivs, a seccomp filter denying mount/unshare/new
namespaces, a private mount namespace with ``/sys`` read-only. That script *execs* the
command, so the measured process is mason itself: wall time and peak RSS are taken exactly as
for the privileged ``mason`` (``run_measured`` on the same pid and its descendants). The
harness's Python wrapper (``run_unprivileged``) is not used because it captures output instead
of logging it and hides the wait4 figures.

mason is not told which mode to use: it must detect the restrictions and pick chroot isolation
with stat-walk snapshots by itself. A number for "unprivileged" that was really measured in the
privileged mode would be worse than none, so every build's own log lines are checked and the
benchmark stops (``BenchError``) when they do not show chroot isolation.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from .deps import BenchError, tool_version
from .measure import Measurement
from .tools import REPO, BuildRequest, Mason

EXEC_SCRIPT = REPO / "tests" / "support" / "unpriv_exec.py"

# mason's executor logs "isolation: <level> (<reason>); snapshots: <strategy>" once it needs a
# filesystem, and its summary "cache: <hits>/<cacheable> hit".
_ISOLATION = re.compile(r"\bisolation: (\S+) \(.*\); snapshots: (\S+)")
_CACHE = re.compile(r"\bcache: (\d+)/(\d+) hit")


def check_isolation(output: str, log: Path, succeeded: bool = True,
                    expected: tuple[str, str] = ("chroot", "walk")) -> None:
    """Refuse a build's output if it shows any mode but ``expected`` (isolation, snapshots;
    chroot with walk snapshots by default), or, for a build that succeeded, shows no mode at all.

    A build whose every step was a registry cache hit never picks an isolation (no step runs),
    so it logs no isolation line; that is accepted only when its summary says every cacheable
    step hit. A failed build may have stopped before choosing: it is reported as a failure.
    """
    chosen = _ISOLATION.findall(output)
    wrong = [f"{level}/{snap}" for level, snap in chosen if (level, snap) != expected]
    if wrong:
        raise BenchError(f"the build ran with isolation/snapshots {', '.join(wrong)}, "
                         f"not {'/'.join(expected)}, inside the unprivileged harness (see {log})")
    if chosen or not succeeded:
        return
    hits = _CACHE.search(output)
    if not (hits and hits.group(1) == hits.group(2) and int(hits.group(2)) > 0):
        raise BenchError(f"the build log has no 'isolation: {expected[0]} …' line and not every "
                         f"step was a cache hit, so the mode it measured is unknown (see {log})")


class MasonUnpriv(Mason):
    """The same template, binary and source tree as ``Mason``; only the environment differs."""

    name = "mason-unpriv"

    def _wrap(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            raise BenchError("mason-unpriv: the unprivileged harness must be started as root "
                             "(it needs CAP_SYS_ADMIN to set up the namespace it then forbids)")
        if not EXEC_SCRIPT.is_file():
            raise BenchError(f"mason-unpriv: the harness script {EXEC_SCRIPT} is missing")
        # -I: the harness imports nothing from the environment it is about to restrict
        return [sys.executable, "-I", str(EXEC_SCRIPT), "--", *argv]

    def version(self) -> str:
        # also proves, before any scenario runs, that the harness starts and mason runs inside it
        return tool_version(self._wrap([*shlex.split(self.mason), "version"]), env=self.env) + " (unprivileged harness)"

    def measure(self, argv: list[str], req: BuildRequest) -> Measurement:
        start = req.log.stat().st_size if req.log.exists() else 0
        m = super().measure(self._wrap(argv), req)
        with open(req.log, "rb") as f:
            f.seek(start)
            output = f.read().decode(errors="replace")
        check_isolation(output, req.log, succeeded=m.returncode == 0)
        return m
