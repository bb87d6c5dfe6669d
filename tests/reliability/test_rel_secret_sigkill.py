"""A ``RUN --mount=type=secret`` value is never on a disk a SIGKILLed mason leaves behind.

mason is SIGKILLed while the RUN that has the secret mounted runs; then every byte of the
test's own directory (work dir, cache dir, the log, everything under this test's tmp dir) is
searched for the value. The secret is given with ``env=`` so its source is not a file there.
The RUN first checks what it sees (a regular file, mode 0400, the value), so the value was
really mounted when mason died. Privileged (namespaces) level: the secret is a memfd
bind-mounted at the target (mason.sandbox.secretfile); the chroot level copies it into the
root and is documented as not covered (docs/security.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.relhelpers import cli_env, processes_with_cmdline

pytestmark = pytest.mark.integration
VALUE = "sigkill-secret-9d41e7b2c6"


def _files_holding(root: Path, needle: bytes) -> list[str]:
    """Files under ``root`` whose data holds ``needle``. Only the allocated extents are read
    (SEEK_DATA/SEEK_HOLE): the work dir's scratch filesystem image is a sparse file of tens of
    GB with a few MB of data, and those MB (deleted files' blocks included) are what a disk
    left behind would give away."""
    found = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                if _holds(path, needle):
                    found.append(str(path))
            except OSError:
                continue
    return found


def _holds(path: Path, needle: bytes) -> bool:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        size, offset = os.fstat(fd).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:          # ENXIO: no data past offset
                return False
            end = os.lseek(fd, start, os.SEEK_HOLE)
            os.lseek(fd, max(0, start - len(needle)), os.SEEK_SET)
            left = end - max(0, start - len(needle))
            tail = b""
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                if needle in tail + chunk:
                    return True
                tail, left = chunk[-len(needle):], left - len(chunk)
            offset = end
        return False
    finally:
        os.close(fd)


def test_sigkill_mid_run_leaves_no_secret_on_disk(tmp_path, busybox_layout):
    marker = f"sleep 2{os.getpid() % 1000:03d}"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{busybox_layout}\n"
        "RUN --mount=type=secret,id=tok sh -c 'test -f /run/secrets/tok && test ! -L /run/secrets/tok"
        f" && stat -c %a /run/secrets/tok && cat /run/secrets/tok | wc -c; {marker}'\n")
    work, cache, log = tmp_path / "work", tmp_path / "cache", tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                                 "--work-dir", str(work), "--cache-dir", str(cache),
                                 "--secret", "id=tok,env=REL_SECRET"],
                                stdout=out, stderr=subprocess.STDOUT, env=cli_env(REL_SECRET=VALUE))
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
    assert _files_holding(tmp_path, VALUE.encode()) == [], "the secret is on disk after SIGKILL"
    # the next build there cleans the stale work dir up
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nLABEL next=run\n")
    done = subprocess.run([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                           "--work-dir", str(work)], capture_output=True, env=cli_env(), timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
