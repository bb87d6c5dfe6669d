"""A SIGKILLed mason takes its chroot-mode RUN with it.

In chroot isolation there is no PID namespace whose init's death would kill the RUN's tree,
and PR_SET_PDEATHSIG follows the forking thread, not the process. The helper (chrootinit)
holds the read end of a lifeline pipe whose write end only mason has: when the kernel closes
it (mason died, SIGKILL included) the helper kills the command's whole tree. The test looks
only at its own uniquely named marker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.relhelpers import cli_env, processes_with_cmdline, work_dirs

pytestmark = pytest.mark.integration


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.parametrize("isolation", ["chroot"])
def test_sigkilled_mason_takes_the_chroot_run_with_it(tmp_path, busybox_layout, isolation):
    marker = f"sleep 1{os.getpid() % 1000:03d}"     # a command line only this test runs
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    # setsid: a daemon that left the RUN's process group must die too
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nRUN setsid {marker} & {marker}\n")
    work, log = tmp_path / "work", tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                                 "--work-dir", str(work), f"--isolation={isolation}"],
                                stdout=out, stderr=subprocess.STDOUT, env=cli_env())
    try:
        assert _wait_until(lambda: len(processes_with_cmdline(marker)) >= 2 or proc.poll() is not None, 120), \
            log.read_text()[-3000:]
        assert proc.poll() is None, log.read_text()[-3000:]
        proc.kill()
        proc.wait(30)
        gone = _wait_until(lambda: processes_with_cmdline(marker) == [], 30)
        left = processes_with_cmdline(marker)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in processes_with_cmdline(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert gone, f"the RUN's processes {left} outlived the SIGKILLed mason"
    # the next build under the same work root removes the stale work dir (nothing pins it now)
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nLABEL next=run\n")
    done = subprocess.run([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                           "--work-dir", str(work), f"--isolation={isolation}"], capture_output=True,
                          env=cli_env(), timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert work_dirs(work) == []
