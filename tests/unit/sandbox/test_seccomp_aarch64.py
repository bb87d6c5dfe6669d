"""The aarch64 RUN seccomp filter: numbers checked against the kernel's asm-generic table (the
header Debian's linux-libc-dev installs, preprocessed as arm64's asm/unistd.h does), and the
program evaluated by the classic-BPF interpreter of test_seccomp_filter.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mason.sandbox import seccomp
from test_seccomp_filter import ALLOW, ENOSYS, EPERM, run_filter

AARCH64 = 0xC00000B7            # AUDIT_ARCH_AARCH64
ARM = 0x40000028                # AUDIT_ARCH_ARM: AArch32 tasks on the same CPU
GENERIC = Path("/usr/include/asm-generic/unistd.h")
# arm64's uapi asm/unistd.h, before it includes the generic table
ARM64_WANTS = ("RENAMEAT", "NEW_STAT", "SET_GET_RLIMIT", "TIME32_SYSCALLS", "SYS_CLONE3", "MEMFD_SECRET")
REFUSED = ("mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "kexec_load",
           "kexec_file_load", "open_by_handle_at", "init_module", "finit_module", "delete_module",
           "perf_event_open", "userfaultfd", "pivot_root", "swapon", "reboot", "acct", "settimeofday",
           "clock_settime", "syslog", "quotactl", "fsopen", "move_mount", "open_tree", "mount_setattr", "kcmp",
           "pidfd_getfd", "vhangup", "sethostname", "setdomainname", "fanotify_init", "lookup_dcookie")


@pytest.fixture(scope="module")
def kernel_numbers(tmp_path_factory) -> dict[str, int]:
    """name -> number of every arm64 system call, from the kernel's own header (with arm64's
    asm/bitsperlong.h: 64-bit longs, so the 64-bit names of the __NR3264 calls)."""
    assert GENERIC.exists(), "linux-libc-dev (scripts/setup installs gcc and libc6-dev) is missing"
    arch = tmp_path_factory.mktemp("arm64-asm")
    (arch / "asm").mkdir()
    (arch / "asm" / "bitsperlong.h").write_text("#define __BITS_PER_LONG 64\n")
    argv = ["cpp", "-dM", "-undef", "-nostdinc", f"-I{arch}", "-I/usr/include",
            *(f"-D__ARCH_WANT_{w}" for w in ARM64_WANTS), str(GENERIC)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    defs = dict(re.findall(r"^#define (__NR\w*) \(?([^)\n]*)\)?$", out, re.M))

    def value(name: str) -> int:
        v = defs[name].strip()
        if v.isdigit():
            return int(v)
        m = re.fullmatch(r"(__NR\w+)\s*\+\s*(\d+)", v)
        return value(m.group(1)) + int(m.group(2)) if m else value(v)

    return {k[5:]: value(k) for k in defs if k.startswith("__NR_") and k != "__NR_syscalls"}


@pytest.fixture(scope="module")
def prog():
    return seccomp.program("aarch64")


def test_the_numbers_are_the_kernels(kernel_numbers):
    table = seccomp.ALLOWED["aarch64"]
    assert {name: kernel_numbers.get(name) for name in table} == table
    special = seccomp.SPECIAL["aarch64"]
    for name in ("socket", "personality", "clone", "clone3", "chroot", "ptrace", "process_vm_readv",
                 "process_vm_writev"):
        assert special[name] == kernel_numbers[name], name
    # every x86_64 call that aarch64 has is allowed there too: the profile is one list of names
    missing = {n for n in seccomp.ALLOWED["x86_64"] if n in kernel_numbers} - set(table)
    assert missing == set()


def test_every_listed_call_is_allowed(prog):
    allowed = seccomp.ALLOWED["aarch64"]
    assert len(allowed) > 240
    assert {n: run_filter(prog, nr, arch=AARCH64) for n, nr in allowed.items()} == {n: ALLOW for n in allowed}


@pytest.mark.parametrize("name", REFUSED)
def test_privileged_calls_are_refused_with_eperm(prog, kernel_numbers, name):
    assert name not in seccomp.ALLOWED["aarch64"]
    assert run_filter(prog, kernel_numbers[name], arch=AARCH64) == EPERM


def test_argument_rules(prog):
    special = seccomp.SPECIAL["aarch64"]
    socket, clone, personality = special["socket"], special["clone"], special["personality"]
    assert run_filter(prog, socket, (2, 1, 0, 0, 0, 0), arch=AARCH64) == ALLOW
    assert run_filter(prog, socket, (40, 1, 0, 0, 0, 0), arch=AARCH64) == EPERM          # AF_VSOCK
    assert run_filter(prog, clone, (0x01200011, 0, 0, 0, 0, 0), arch=AARCH64) == ALLOW
    assert run_filter(prog, clone, (0x10000000 | 0x11, 0, 0, 0, 0, 0), arch=AARCH64) == EPERM   # CLONE_NEWUSER
    assert run_filter(prog, special["clone3"], arch=AARCH64) == ENOSYS
    assert run_filter(prog, personality, (0x8, 0, 0, 0, 0, 0), arch=AARCH64) == ALLOW
    assert run_filter(prog, personality, (0x0400000, 0, 0, 0, 0, 0), arch=AARCH64) == EPERM


def test_other_abis_are_killed(prog):
    assert run_filter(prog, 0, arch=ARM) == seccomp.RET_KILL_PROCESS
    assert run_filter(prog, 0, arch=0xC000003E) == seccomp.RET_KILL_PROCESS   # an x86_64 call
    assert len(prog) < 4096 and len(seccomp.encode(prog)) == 8 * len(prog)
