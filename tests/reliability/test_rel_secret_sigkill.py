"""A ``RUN --mount=type=secret`` value is never on a disk a SIGKILLed mason leaves behind.

mason is SIGKILLed while the RUN that has the secret mounted runs; then every byte of the
test's own directory (work dir, cache dir, the log, everything under this test's tmp dir) is
searched for the value. The secret is given with ``env=`` so its source is not a file there.
The RUN first checks what it sees (a regular file, mode 0400, the value), so the value was
really mounted when mason died. Privileged (namespaces) level: the secret is a memfd
bind-mounted at the target (mason.sandbox.secretfile). Chroot level (mason in the
unprivileged-container harness): the secret is a copy in the root, on the disk, while the RUN
runs; the RUN's supervisor sees mason's lifeline hang up, kills the RUN and scrubs the copy
(zeros, then unlink: mason.sandbox.scrub), so once the RUN is gone no file holds the value."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.relhelpers import cli_env, processes_with_cmdline
from tests.support.diskscan import files_holding
from tests.support.unpriv import EXEC_SCRIPT

pytestmark = pytest.mark.integration
VALUE = "sigkill-secret-9d41e7b2c6"


def _mason_argv(level: str, scratch: Path) -> list[str]:
    if level == "chroot":    # Docker's default container: mason picks chroot isolation
        return [sys.executable, "-I", EXEC_SCRIPT, "--tmpfs", str(scratch), "--", sys.executable, "-m", "mason"]
    return [sys.executable, "-m", "mason"]


@pytest.mark.parametrize("level", ["privileged", "chroot"])
def test_sigkill_mid_run_leaves_no_secret_on_disk(tmp_path, busybox_layout, level):
    marker = f"sleep {2 if level == 'privileged' else 3}{os.getpid() % 1000:03d}"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    mason = _mason_argv(level, scratch)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{busybox_layout}\n"
        "RUN --mount=type=secret,id=tok sh -c 'test -f /run/secrets/tok && test ! -L /run/secrets/tok"
        f" && stat -c %a /run/secrets/tok && cat /run/secrets/tok | wc -c; {marker}'\n")
    work, cache, log = tmp_path / "work", tmp_path / "cache", tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*mason, "build", "--context", str(ctx), "--no-push",
                                 "--work-dir", str(work), "--cache-dir", str(cache),
                                 "--secret", "id=tok,env=REL_SECRET"],
                                stdout=out, stderr=subprocess.STDOUT,
                                env=cli_env(REL_SECRET=VALUE, TMPDIR=str(scratch)))
    try:
        deadline = time.monotonic() + 120
        while not processes_with_cmdline(marker) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with_cmdline(marker), log.read_text()[-3000:]
        time.sleep(3)    # past the writeback of anything written to a disk while the RUN started
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        deadline = time.monotonic() + 30
        while processes_with_cmdline(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
    output = log.read_text()
    assert "400" in output and f"{len(VALUE)}" in output, output[-3000:]   # what the RUN saw
    if level == "chroot":
        assert "isolation: chroot" in output, output[-3000:]
    # The supervisor scrubs once the RUN's processes are gone: allow it a bounded while to finish.
    deadline = time.monotonic() + 30
    while files_holding(tmp_path, VALUE.encode()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert files_holding(tmp_path, VALUE.encode()) == [], "the secret is on disk after SIGKILL"
    # the next build there cleans the stale work dir up
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nLABEL next=run\n")
    done = subprocess.run([*mason, "build", "--context", str(ctx), "--no-push",
                           "--work-dir", str(work)], capture_output=True, env=cli_env(TMPDIR=str(scratch)),
                          timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
