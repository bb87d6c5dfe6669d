"""The harness really is Docker's unprivileged container: each claim checked from inside it."""

import os
import platform
import subprocess

import pytest

from tests.support.unpriv import DOCKER_DEFAULT_MASK, run_unprivileged
from tests.support.unpriv_exec import build_filter

pytestmark = pytest.mark.integration


def _status(text):
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_capabilities_no_new_privs_and_seccomp():
    res = run_unprivileged(["cat", "/proc/self/status"])
    assert res.returncode == 0, res.stderr
    st = _status(res.stdout)
    assert DOCKER_DEFAULT_MASK == 0xA80425FB  # Docker's documented CapEff for a root container
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(st[field], 16) == DOCKER_DEFAULT_MASK, (field, st[field])
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0
    assert st["NoNewPrivs"].strip() == "1"
    assert st["Seccomp"].strip() == "2"
    assert st["Uid"].split()[:2] == ["0", "0"]


def test_mounts_and_namespaces_are_denied():
    res = run_unprivileged(["sh", "-c", "unshare -m true; echo m=$?; unshare -U true; echo u=$?; "
                                        "mount -t tmpfs x /mnt; echo mount=$?; echo ok"])
    assert res.stdout.split() == ["m=1", "u=1", "mount=32", "ok"], res.stdout + res.stderr
    assert res.stderr.count("unshare failed: Operation not permitted") == 2


SYSCALLS = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(*args):
    r = libc.syscall(*[ctypes.c_long(a) for a in args])
    if r == 0 and args[0] == CLONE:
        os._exit(0)                     # a child made by a clone the filter should have denied
    if r > 0:
        os.waitpid(r, 0)
        return "allowed"
    return os.strerror(ctypes.get_errno()) if r < 0 else "0"
CLONE, CLONE3, UNSHARE = {clone}, 435, {unshare}
print([l for l in open("/proc/self/status") if l.startswith("CapEff")][0], end="")
print(call(CLONE3, 0, 0))                               # EINVAL when allowed, ENOSYS when denied
print(call(CLONE, 0x10000000 | 17, 0, 0, 0, 0))         # clone(CLONE_NEWUSER|SIGCHLD)
print(call(UNSHARE, 0x10000000))                        # CLONE_NEWUSER: needs no capability (last: it moves us)
print(call(CLONE, 17, 0, 0, 0, 0))                      # plain fork: allowed
"""


def _syscall_script():
    nr = {"x86_64": (56, 272), "aarch64": (220, 97)}[platform.machine()]
    return SYSCALLS.format(clone=nr[0], unshare=nr[1])


def test_seccomp_denies_what_the_kernel_would_allow():
    """User namespaces need no capability: only the filter can deny them.  The same script
    outside the harness, with every capability dropped, proves the kernel allows them, so the
    denials inside are the filter's."""
    outside = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs",
                              "python3", "-c", _syscall_script()], capture_output=True, text=True)
    # no capability at all, yet the kernel allows a user namespace:
    assert outside.stdout.split("\n")[:5] == ["CapEff:\t0000000000000000", "Invalid argument", "allowed",
                                              "0", "allowed"], outside
    inside = run_unprivileged(["python3", "-c", _syscall_script()])
    assert inside.stdout.split("\n")[1:5] == ["Function not implemented", "Operation not permitted",
                                             "Operation not permitted", "allowed"], inside


def test_foreign_abi_cannot_bypass_the_filter():
    prog = build_filter(platform.machine())
    assert len(prog) % 8 == 0 and len(prog) // 8 < 64
    if platform.machine() == "x86_64":  # x32 numbers (bit 30) would dodge every comparison
        inside = run_unprivileged(["python3", "-c", "import ctypes; l = ctypes.CDLL(None, use_errno=True); "
                                   "print(l.syscall(ctypes.c_long(0x40000000 | 272), ctypes.c_long(0)), "
                                   "ctypes.get_errno())"])
        assert inside.stdout.split() == ["-1", "38"], inside


def test_chroot_and_mknod_work(busybox_root):
    res = run_unprivileged(["sh", "-c", f"mknod {busybox_root}/null c 1 3 && chroot {busybox_root} "
                                        "/bin/sh -c 'echo hi > /null && id -u && cat /null | wc -c'"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0", "0"]
    assert os.major(os.stat(busybox_root / "null").st_rdev) == 1


def _host_mounts() -> list[tuple[str, str]]:
    """(mount point, options) of this process's mount table."""
    with open("/proc/self/mountinfo") as f:
        return [(fields[4], fields[5]) for fields in (line.split() for line in f)]


def test_private_tmp_and_readonly_sys_leave_the_host_untouched():
    # Only the harness's own traces are looked for: another suite on the machine may mount
    # and unmount meanwhile, so the whole table is not compared.
    sys_before = [m for m in _host_mounts() if m[0] == "/sys" or m[0].startswith("/sys/")]
    res = run_unprivileged(["sh", "-c", 'echo x > "$TMPDIR/f" && stat -f -c %T "$TMPDIR" && '
                                        "touch /sys/kernel/x 2>&1; echo $TMPDIR"])
    assert res.returncode == 0, res.stderr
    fstype, sys_error, tmpdir = res.stdout.splitlines()
    assert fstype == "tmpfs" and "Read-only file system" in sys_error
    after = _host_mounts()
    assert [m for m in after if m[0] == tmpdir or m[0].startswith(tmpdir + "/")] == []
    assert [m for m in after if m[0] == "/sys" or m[0].startswith("/sys/")] == sys_before
    assert not os.path.exists(tmpdir)


def test_timeout_kills_the_harness_process_group():
    # The sleeps' arguments name this run's processes: another suite on the machine has others.
    a, b = 500000 + 2 * os.getpid(), 500001 + 2 * os.getpid()
    with pytest.raises(subprocess.TimeoutExpired):
        run_unprivileged(["sh", "-c", f"sleep {a} & sleep {b}"], timeout=0.5)
    leftovers = subprocess.run(["pgrep", "-f", f"^sleep ({a}|{b})$"], capture_output=True, text=True).stdout
    assert leftovers == ""
