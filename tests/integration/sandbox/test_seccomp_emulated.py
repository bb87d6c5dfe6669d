"""The RUN seccomp filter and qemu-user emulation: the kernel filters the *host's* calls.

Under qemu-user (binfmt_misc, how a foreign-platform RUN executes) the guest's system calls are
made by qemu, in the host's ABI: a filter for the guest's architecture would see only foreign
calls and kill qemu at its first one (the audit arch check), while the host's filter applies
to every call qemu makes on the guest's behalf. So an emulated RUN gets the host's filter
(``seccomp.program()`` defaults to this machine): an arm64 busybox under qemu-aarch64-static
is refused ``unshare`` and ``mount`` with EPERM and may echo. (qemu emulates a few calls itself
without a host call, and needs ``clone``/``mmap``/signals of its own: all in the profile.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mason.sandbox import seccomp

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="installing a filter without no_new_privs needs root")]

QEMU = "/usr/bin/qemu-aarch64-static"
REPO = Path(__file__).resolve().parents[3]
DEB = REPO / ".mason" / "debs" / "busybox-static_arm64.deb"
UNDER_FILTER = r"""
import os, sys
from mason.sandbox import linux, seccomp
linux.seccomp_filter(seccomp.encode(seccomp.program(sys.argv[1])))
os.execv(sys.argv[2], sys.argv[2:])
"""


@pytest.fixture(scope="module")
def arm64_busybox(tmp_path_factory) -> str:
    assert os.path.exists(QEMU), "scripts/setup installs qemu-user-static"
    assert DEB.exists(), "scripts/setup downloads arm64's busybox-static"
    dest = tmp_path_factory.mktemp("arm64-busybox")
    subprocess.run(["dpkg-deb", "-x", str(DEB), str(dest)], check=True)
    return str(dest / "bin" / "busybox")


def _under(machine: str, *argv: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-c", UNDER_FILTER, machine, QEMU, *argv], capture_output=True,
                          text=True, env=env, timeout=60)


def test_the_hosts_filter_refuses_an_emulated_guests_calls(arm64_busybox, tmp_path):
    host = os.uname().machine
    assert host in seccomp.ALLOWED
    ok = _under(host, arm64_busybox, "echo", "allowed")
    assert (ok.returncode, ok.stdout) == (0, "allowed\n"), ok.stderr
    refused = _under(host, arm64_busybox, "unshare", "-m", "true")
    assert refused.returncode == 1 and "Operation not permitted" in refused.stderr, refused.stderr
    target = tmp_path / "m"
    target.mkdir()
    mount = _under(host, arm64_busybox, "mount", "-t", "tmpfs", "none", str(target))
    assert mount.returncode != 0 and not os.path.ismount(target), mount.stderr
    # the same call without a filter succeeds (what fails after it is exec'ing "true" without binfmt),
    # so the refusal above was the filter's
    free = subprocess.run([QEMU, arm64_busybox, "unshare", "-m", "true"], capture_output=True, text=True, timeout=60)
    assert "unshare(" not in free.stderr, free.stderr


def test_a_filter_for_the_guests_architecture_kills_qemu(arm64_busybox):
    guest = "aarch64" if os.uname().machine != "aarch64" else "x86_64"
    proc = _under(guest, arm64_busybox, "echo", "never")
    assert proc.returncode == -signal.SIGSYS and proc.stdout == "", (proc.returncode, proc.stderr)
