"""The RUN seccomp filter, evaluated by a classic-BPF interpreter of the test's own against the
rules of Docker's default profile (tests/reliability/test_rel_sandbox.py tries it for real)."""

from __future__ import annotations

import struct

import pytest

from mason.errors import NotSupportedError
from mason.sandbox import seccomp

X86_64 = 0xC000003E
ALLOW, EPERM, ENOSYS = seccomp.RET_ALLOW, seccomp.RET_ERRNO | 1, seccomp.RET_ERRNO | 38
# x86_64 numbers of calls Docker's profile refuses without CAP_SYS_ADMIN & co.
REFUSED = {"mount": 165, "umount2": 166, "unshare": 272, "setns": 308, "keyctl": 250, "add_key": 248,
           "request_key": 249, "bpf": 321, "kexec_load": 246, "kexec_file_load": 320, "open_by_handle_at": 304,
           "init_module": 175, "finit_module": 313, "delete_module": 176, "perf_event_open": 298,
           "userfaultfd": 323, "pivot_root": 155, "swapon": 167, "reboot": 169, "acct": 163,
           "settimeofday": 164, "clock_settime": 227, "syslog": 103, "iopl": 172, "ioperm": 173,
           "quotactl": 179, "lookup_dcookie": 212, "fsopen": 430, "move_mount": 429, "open_tree": 428,
           "mount_setattr": 442, "kcmp": 312, "pidfd_getfd": 438, "vhangup": 153, "sethostname": 170,
           "setdomainname": 171, "fanotify_init": 300}


def run_filter(prog, nr: int, args=(0, 0, 0, 0, 0, 0), arch: int = X86_64) -> int:
    data = struct.pack("=iIQ6Q", nr, arch, 0, *args)
    pc, acc = 0, 0
    for _ in range(len(prog) + 1):
        code, jt, jf, k = prog[pc]
        if code == 0x20:                      # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x15:                    # jeq #k
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x35:                    # jge #k
            pc += 1 + (jt if acc >= k else jf)
        elif code == 0x45:                    # jset #k
            pc += 1 + (jt if acc & k else jf)
        elif code == 0x06:                    # ret #k
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("the program does not terminate")


@pytest.fixture(scope="module")
def prog():
    return seccomp.program("x86_64")


def test_every_listed_call_is_allowed(prog):
    allowed = seccomp.ALLOWED["x86_64"]
    assert len(allowed) > 280
    assert {name: run_filter(prog, nr) for name, nr in allowed.items()} == {name: ALLOW for name in allowed}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_privileged_calls_are_refused_with_eperm(prog, name):
    assert name not in seccomp.ALLOWED["x86_64"]
    assert run_filter(prog, REFUSED[name]) == EPERM


def test_argument_rules(prog):
    socket, clone, personality = 41, 56, 135
    assert run_filter(prog, socket, (2, 1, 0, 0, 0, 0)) == ALLOW            # AF_INET
    assert run_filter(prog, socket, (17, 3, 0, 0, 0, 0)) == ALLOW           # AF_PACKET (CAP_NET_RAW decides)
    assert run_filter(prog, socket, (40, 1, 0, 0, 0, 0)) == EPERM           # AF_VSOCK
    assert run_filter(prog, clone, (0x01200011, 0, 0, 0, 0, 0)) == ALLOW    # fork()'s flags
    for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000):
        assert run_filter(prog, clone, (flag | 0x11, 0, 0, 0, 0, 0)) == EPERM   # CLONE_NEW*
    assert run_filter(prog, 435) == ENOSYS                                   # clone3: libc falls back
    for persona in seccomp.PERSONAS:
        assert run_filter(prog, personality, (persona, 0, 0, 0, 0, 0)) == ALLOW
    assert run_filter(prog, personality, (0x0400000, 0, 0, 0, 0, 0)) == EPERM
    assert run_filter(prog, personality, (1 << 32, 0, 0, 0, 0, 0)) == EPERM


def test_other_abis_are_killed_or_refused(prog):
    assert run_filter(prog, 0, arch=0x40000003) == seccomp.RET_KILL_PROCESS   # i386 (int 0x80)
    assert run_filter(prog, 0x40000000 | 0) == EPERM                          # x32 numbers


def test_the_program_fits_the_kernel_limit_and_encodes(prog):
    assert len(prog) < 4096
    assert len(seccomp.encode(prog)) == 8 * len(prog)


def test_unknown_machine_is_refused():
    with pytest.raises(NotSupportedError, match="no seccomp filter for sparc"):
        seccomp.program("sparc")
