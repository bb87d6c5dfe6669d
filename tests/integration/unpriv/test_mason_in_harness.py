"""mason's own isolation detection and RUN runners inside the simulated unprivileged container."""

import json
import os
import subprocess
import time

import pytest

from tests.support.unpriv import python_in_harness

pytestmark = pytest.mark.integration

# Added to a failed RUN's output in chroot mode (the likeliest reason it fails only here).
CHROOT_NOTE = "mason: this RUN ran with chroot isolation: no /proc, /sys, /dev/pts or /dev/fd (see docs/unprivileged.md)"

RUN = r"""
import json, sys
from pathlib import Path
from mason.sandbox.capabilities import detect
from mason.sandbox.runner import make_runner
from mason.sandbox.spec import RunSpec
from mason.sandbox.users import resolve_user
root, work, script, user, timeout = sys.argv[1:6]
iso = detect(work)
runner = make_runner(iso, work)
lines = []
spec = RunSpec(root=Path(root), argv=("/bin/sh", "-c", script), env=("PATH=/bin",),
               user=resolve_user(Path(root), user), timeout=float(timeout) or None)
try:
    code = runner.run(spec, lambda s, line: lines.append([s, line]))
except Exception as e:
    code = f"{type(e).__name__}: {e}"
print(json.dumps({"level": iso.level, "reason": iso.reason, "overlay": iso.overlay,
                  "runner": runner.name, "code": code, "lines": lines}))
"""


def _run_in_harness(tmp_path, root, script, user="root", timeout=0):
    res = python_in_harness(f"import sys; sys.argv[1:] = {[str(root), str(tmp_path / 'w'), script, user, str(timeout)]!r}\n"
                            + RUN, timeout=60)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.splitlines()[-1])


def test_detect_reports_chroot_and_why(tmp_path):
    res = python_in_harness(
        "from mason.sandbox.capabilities import detect, choose\n"
        f"i = detect({str(tmp_path / 'w')!r}); print(i.level); print(i.overlay); print(i.reason)\n"
        "try:\n    choose(i, 'namespaces')\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    assert res.returncode == 0, res.stderr
    level, overlay, reason, refused = res.stdout.splitlines()
    assert (level, overlay) == ("chroot", "False")
    assert "unshare" in reason and "Operation not permitted" in reason and "chroot is allowed" in reason
    assert refused.startswith("UsageError --isolation=namespaces is not available here: ")
    assert os.listdir(tmp_path / "w") == []


def test_chroot_runner_runs_busybox_as_users(tmp_path, busybox_root):
    (busybox_root / "etc/hosts").write_text("# image hosts\n")
    before = os.stat(busybox_root / "etc/hosts")
    out = _run_in_harness(tmp_path, busybox_root,
                          "id -u; id -G; echo x > /dev/null; head -c 3 /dev/zero | wc -c; "
                          "grep -c localhost /etc/hosts; touch /tmp/mine; exit 5", user="app")
    assert (out["runner"], out["code"]) == ("chroot", 5), out
    assert [line for _, line in out["lines"]] == ["1000", "1000 50", "3", "2", CHROOT_NOTE]
    assert os.stat(busybox_root / "tmp/mine").st_uid == 1000
    after = os.stat(busybox_root / "etc/hosts")
    assert (busybox_root / "etc/hosts").read_text() == "# image hosts\n"
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    assert not (busybox_root / "dev").exists()  # mknod'ed stubs removed


def _alive(tag):
    return subprocess.run(["pgrep", "-f", f"^sleep {tag}$"], capture_output=True, text=True).stdout.split()


def test_chroot_runner_kills_other_uids_daemons(tmp_path, busybox_root):
    """Without CAP_SYS_PTRACE mason cannot read /proc/PID/root of a uid-1000 process: the
    subreaper helper must still find the setsid daemon (it used to hang the build forever)."""
    t0 = time.monotonic()
    out = _run_in_harness(tmp_path, busybox_root, "setsid sleep 341 & sleep 0.2; echo started", user="app")
    assert out["code"] == 0 and out["lines"] == [["stdout", "started"]], out
    assert time.monotonic() - t0 < 20
    assert _alive(341) == []


def test_chroot_runner_timeout_kills_other_uids_daemons(tmp_path, busybox_root):
    out = _run_in_harness(tmp_path, busybox_root, "setsid sleep 342 & sleep 343", user="app", timeout=1)
    assert out["code"].startswith("BuildError: RUN /bin/sh -c setsid sleep 342") and "timed out" in out["code"]
    assert _alive(342) == [] and _alive(343) == []


def test_namespace_runner_refuses_clearly(tmp_path, busybox_root):
    res = python_in_harness(
        "from pathlib import Path\nfrom mason.sandbox.namespace import NamespaceRunner\n"
        "from mason.sandbox.spec import RunSpec\n"
        f"spec = RunSpec(root=Path({str(busybox_root)!r}), argv=('/bin/true',))\n"
        "try:\n"
        f"    NamespaceRunner({str(tmp_path / 's')!r}).run(spec, lambda s, l: None)\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n")
    assert res.stdout.strip() == ("BuildError cannot start RUN /bin/true: cannot create namespaces: "  # mount, UTS, IPC, PID, net
                                  "unshare(0x6c020000): Operation not permitted"), res
