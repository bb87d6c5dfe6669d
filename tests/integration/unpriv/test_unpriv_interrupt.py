"""A CI job cancelled mid-RUN (SIGTERM, or Ctrl-C's SIGINT) in the unprivileged harness: the RUN's
processes die, including a ``setsid`` daemon of another uid, and the work dir is removed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from tests.integration.executor.buildhelpers import write_context
from tests.support.unpriv import EXEC_SCRIPT, SRC

pytestmark = pytest.mark.integration


def _alive(tag: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", f"^sleep {tag}$"], capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cancel_mid_run_cleans_up(tmp_path, busybox_layout, signum):
    # The sleep's argument names this run's processes: another suite on the machine has others.
    tag = str(400000 + 2 * os.getpid() + int(signum == signal.SIGINT))
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{busybox_layout}:latest\n"
                                          "RUN echo 'app:x:1000:1000::/:/bin/sh' >> /etc/passwd\nUSER app\n"
                                          f"RUN setsid sleep {tag} & echo started; sleep {tag}\n")
    work = tmp_path / "work"
    scratch = tempfile.mkdtemp(prefix="mason-unpriv-")
    env = dict(os.environ, PYTHONPATH=SRC, TMPDIR=scratch)
    argv = [sys.executable, "-I", EXEC_SCRIPT, "--tmpfs", scratch, "--", sys.executable, "-m", "mason", "build",
            "--context", str(ctx), "--no-push", "--oci-layout-path", str(tmp_path / "out"),
            "--work-dir", str(work), "--progress=plain"]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        seen = []
        for line in proc.stderr:   # wait until the RUN is really running
            seen.append(line)
            if "started" in line:
                break
        assert any("started" in line for line in seen), "".join(seen)
        # "started" is echoed before both sleeps have exec'd: wait for them (bounded, not timed)
        deadline = time.monotonic() + 60
        while len(_alive(tag)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_alive(tag)) == 2
        proc.send_signal(signum)   # the harness execs mason: this is mason's pid
        rest = proc.stderr.read()
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)
    assert code == 128 + signum, "".join(seen) + rest   # docs/cli.md: 143 SIGTERM, 130 SIGINT
    assert ("terminated" if signum == signal.SIGTERM else "interrupted") in rest
    assert _alive(tag) == []
    assert list(work.iterdir()) == []
    assert not (tmp_path / "out").exists()
