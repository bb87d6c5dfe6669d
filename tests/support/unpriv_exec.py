"""Become a simulated unprivileged container, then exec a command (the unprivileged test harness).

    python -I tests/support/unpriv_exec.py [--tmpfs DIR] -- CMD [ARG...]
    python -I tests/support/unpriv_exec.py --rootfs DIR [--bind SRC:DST]... [--cwd DIR] [--privileged] -- CMD [ARG...]

Run as root with full capabilities.  In this one process, before ``execvp(CMD)``:

1. a private mount namespace (``unshare(CLONE_NEWNS)``, ``/`` made ``MS_PRIVATE`` recursively),
   where ``/sys`` and ``/proc/sys`` are remounted read-only as Docker does, and an optional fresh
   tmpfs is mounted on ``DIR`` (the container's own scratch space);
   With ``--rootfs`` the command runs in that root filesystem instead, set up as Docker sets up
   a container's: the root bind-mounted on itself, a fresh ``proc``, ``/dev`` a tmpfs holding
   only Docker's device nodes (null, zero, full, random, urandom, tty; ``/dev/pts``,
   ``/dev/shm``), ``/sys`` read-only, the host's ``/etc/hosts`` and ``/etc/resolv.conf`` (read-only),
   each ``--bind SRC:DST`` (volumes, e.g. a CI job's project directory), then ``pivot_root``
   into it with the old root detached, and ``--cwd`` (default ``/``) as the working directory.
   The PID namespace stays the host's (a new one would need a fork here). ``--privileged`` is
   Docker's ``--privileged``: the host's ``/dev`` (loop devices included), and steps 2-4 are
   skipped (every capability, no seccomp filter).
2. every capability outside Docker's default set is dropped from the bounding set, and the
   permitted/effective sets become exactly that set; inheritable and ambient sets are emptied
   (moby >= 20.10.14 leaves inheritable empty), so after ``execve`` of a root process
   ``CapEff == CapPrm == CapBnd == DOCKER_DEFAULT_CAPS``;
3. ``PR_SET_NO_NEW_PRIVS``;
4. a seccomp BPF filter built here by hand (``setpriv`` has no seccomp option and no C
   compiler is needed): ``mount``, ``umount2``, ``unshare``, ``pivot_root``, ``setns`` and the
   new mount API syscalls fail with EPERM, ``clone`` with any namespace flag fails with EPERM,
   ``clone3`` fails with ENOSYS (Docker's answer, so libc falls back to ``clone`` whose flags a
   classic BPF filter can inspect), and any syscall of another ABI (i386, x32, arm32) fails with
   ENOSYS so it cannot bypass the number checks.

Standalone on purpose (imports only the stdlib, nothing from mason or the tests package): it
is the environment under which mason is tested, so it must not share code with what it tests.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
import warnings  # noqa: F401  (os.execvp imports it lazily: after a pivot_root it is out of reach)

# Docker's default capability set (moby oci/caps/defaults.go), by capability number.
DOCKER_DEFAULT_CAPS = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7,
    "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18, "MKNOD": 27,
    "AUDIT_WRITE": 29, "SETFCAP": 31,
}
DOCKER_DEFAULT_MASK = sum(1 << n for n in DOCKER_DEFAULT_CAPS.values())  # 0xa80425fb

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x10000000, 0x20000000, 0x40000000
NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                   | CLONE_NEWPID | CLONE_NEWNET)

# Per-ABI facts: audit arch value, syscall numbers.  aarch64 uses the generic table.
ARCHES = {
    "x86_64": {"audit": 0xC000003E, "x32_bit": 0x40000000,
               "nr": {"mount": 165, "umount2": 166, "pivot_root": 155, "unshare": 272, "setns": 308,
                      "clone": 56, "clone3": 435}},
    "aarch64": {"audit": 0xC00000B7, "x32_bit": None,
                "nr": {"mount": 40, "umount2": 39, "pivot_root": 41, "unshare": 97, "setns": 268,
                       "clone": 220, "clone3": 435}},
}
# The new mount API (open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr)
# has the same numbers on both ABIs; denied like mount(2), as Docker denies them without SYS_ADMIN.
NEW_MOUNT_API = (428, 429, 430, 431, 432, 433, 442)

EPERM, ENOSYS = 1, 38
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_JGE_K, _BPF_JSET_K, _BPF_RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LOW = 0, 4, 16  # struct seccomp_data, little-endian arg0 low word

PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_CAP_AMBIENT = 24, 38, 22, 47
PR_CAP_AMBIENT_CLEAR_ALL, SECCOMP_MODE_FILTER = 4, 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 16384, 1 << 18
MS_NOSUID, MS_NODEV, MS_NOEXEC, MNT_DETACH = 2, 4, 8, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DOCKER_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str) -> bytes:
    """The seccomp program (``struct sock_filter[]`` bytes) for ``machine`` (``platform.machine()``)."""
    arch = ARCHES.get(machine)
    if arch is None:
        raise OSError(ENOSYS, f"unpriv_exec: no syscall table for {machine} (known: {', '.join(ARCHES)})")
    nr = arch["nr"]
    deny = lambda errno: _insn(_BPF_RET_K, SECCOMP_RET_ERRNO | errno)  # noqa: E731
    prog = [_insn(_BPF_LD_W_ABS, _OFF_ARCH),
            _insn(_BPF_JEQ_K, arch["audit"], jt=1, jf=0),
            deny(ENOSYS),
            _insn(_BPF_LD_W_ABS, _OFF_NR)]
    if arch["x32_bit"]:
        prog += [_insn(_BPF_JGE_K, arch["x32_bit"], jt=0, jf=1), deny(ENOSYS)]
    denied = [(nr[name], EPERM) for name in ("mount", "umount2", "unshare", "pivot_root", "setns")]
    denied += [(n, EPERM) for n in NEW_MOUNT_API] + [(nr["clone3"], ENOSYS)]
    for number, errno in denied:
        prog += [_insn(_BPF_JEQ_K, number, jt=0, jf=1), deny(errno)]
    prog += [_insn(_BPF_JEQ_K, nr["clone"], jt=0, jf=3),     # not clone: jump to ALLOW
             _insn(_BPF_LD_W_ABS, _OFF_ARG0_LOW),            # clone flags (all ns bits in low word)
             _insn(_BPF_JSET_K, NAMESPACE_FLAGS, jt=0, jf=1),
             deny(EPERM),
             _insn(_BPF_RET_K, SECCOMP_RET_ALLOW)]
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unpriv_exec: {what}: {os.strerror(err)}")


def _prctl(libc: ctypes.CDLL, option: int, arg2: int | ctypes.c_void_p, what: str) -> None:
    arg = arg2 if isinstance(arg2, ctypes.c_void_p) else ctypes.c_ulong(arg2)
    _check(libc.prctl(ctypes.c_int(option), arg, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)), what)


def _mount(libc: ctypes.CDLL, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    enc = (lambda s: None if s is None else os.fsencode(s))
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {fstype or source} on {target}")


def enter_mount_namespace(libc: ctypes.CDLL, tmpfs: str | None) -> None:
    _check(libc.unshare(ctypes.c_int(CLONE_NEWNS)), "unshare(CLONE_NEWNS)")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    for path in ("/sys", "/proc/sys"):
        if os.path.ismount(path):  # bind-remount read-only: this namespace's view only
            _mount(libc, path, path, None, MS_BIND | MS_REC)
            _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    if tmpfs:
        _mount(libc, "unpriv-tmp", tmpfs, "tmpfs", 0, "mode=1777")


def _bind(libc: ctypes.CDLL, source: str, target: str, *, readonly: bool = False) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(libc, source, target, None, MS_BIND | MS_REC)
    if readonly:
        _mount(libc, None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def enter_rootfs(libc: ctypes.CDLL, rootfs: str, binds: list[tuple[str, str]], cwd: str,
                 privileged: bool = False) -> None:
    """Make ``rootfs`` this mount namespace's ``/``, furnished as Docker furnishes a container."""
    rootfs = os.path.realpath(rootfs)
    _mount(libc, rootfs, rootfs, None, MS_BIND | MS_REC)
    inside = lambda path: os.path.join(rootfs, path.lstrip("/"))  # noqa: E731
    os.makedirs(inside("/proc"), exist_ok=True)
    _mount(libc, "proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(inside("/dev"), exist_ok=True)
    if privileged:
        _bind(libc, "/dev", inside("/dev"))
        _finish_root(libc, rootfs, inside, binds, cwd)
        return
    _mount(libc, "tmpfs", inside("/dev"), "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name in DOCKER_DEVICES:
        _bind(libc, f"/dev/{name}", inside(f"/dev/{name}"))
    os.makedirs(inside("/dev/pts"))
    _mount(libc, "devpts", inside("/dev/pts"), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", inside("/dev/ptmx"))
    os.makedirs(inside("/dev/shm"))
    _mount(libc, "shm", inside("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, inside(f"/dev/{name}"))
    _finish_root(libc, rootfs, inside, binds, cwd)


def _finish_root(libc: ctypes.CDLL, rootfs: str, inside, binds: list[tuple[str, str]], cwd: str) -> None:
    if os.path.ismount("/sys"):
        _bind(libc, "/sys", inside("/sys"), readonly=True)
    # Docker binds per-container copies of these read-write; here they are the test machine's
    # own files, so a build writing them (a host-root RUN writes the container's /etc) must not
    # reach the machine: read-only.
    for name in ("/etc/hosts", "/etc/resolv.conf"):
        if os.path.exists(name):
            _bind(libc, name, inside(name), readonly=True)
    for source, target in binds:
        _bind(libc, source, inside(target))
    old = inside("/.unpriv-old-root")
    os.makedirs(old, exist_ok=True)
    nr = SYS_PIVOT_ROOT[platform.machine()]
    _check(libc.syscall(ctypes.c_long(nr), os.fsencode(rootfs), os.fsencode(old)), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.unpriv-old-root", ctypes.c_int(MNT_DETACH)), "umount old root")
    os.rmdir("/.unpriv-old-root")
    os.chdir(cwd)


def last_capability() -> int:
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        return int(f.read())


def drop_capabilities(libc: ctypes.CDLL, last: int | None = None) -> None:
    """Keep only Docker's capabilities. ``last`` (cap_last_cap) is read before a ``pivot_root``
    when there is one: this interpreter's standard library is not inside the new root."""
    if last is None:
        last = last_capability()
    for cap in range(last + 1):  # the bounding set first: dropping it needs CAP_SETPCAP, kept
        if not DOCKER_DEFAULT_MASK & (1 << cap):
            _prctl(libc, PR_CAPBSET_DROP, cap, f"PR_CAPBSET_DROP({cap})")
    _prctl(libc, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, "PR_CAP_AMBIENT_CLEAR_ALL")
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    low, high = DOCKER_DEFAULT_MASK & 0xFFFFFFFF, DOCKER_DEFAULT_MASK >> 32
    data = (_CapData * 2)(_CapData(low, low, 0), _CapData(high, high, 0))
    _check(libc.capset(ctypes.byref(header), data), "capset")


def install_seccomp(libc: ctypes.CDLL, program: bytes) -> None:
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _check(libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(prog),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl(PR_SET_SECCOMP)")


def main(argv: list[str]) -> int:
    tmpfs = rootfs = None
    cwd = "/"
    privileged = False
    binds: list[tuple[str, str]] = []
    while argv[:1] == ["--privileged"] or (argv[:1] in (["--tmpfs"], ["--rootfs"], ["--bind"], ["--cwd"])
                                            and len(argv) > 1):
        if argv[0] == "--privileged":
            privileged, argv = True, argv[1:]
            continue
        option, value, argv = argv[0], argv[1], argv[2:]
        if option == "--tmpfs":
            tmpfs = value
        elif option == "--rootfs":
            rootfs = value
        elif option == "--cwd":
            cwd = value
        else:
            source, _, target = value.partition(":")
            binds.append((source, target or source))
    if argv[:1] != ["--"] or len(argv) < 2:
        sys.stderr.write("usage: unpriv_exec.py [--tmpfs DIR | --rootfs DIR [--bind SRC:DST]... [--cwd DIR] [--privileged]]"
                         " -- CMD [ARG...]\n")
        return 2
    command = argv[1:]
    program = build_filter(platform.machine())  # before any restriction: fail early, unchanged
    libc = _libc()
    last = last_capability()
    enter_mount_namespace(libc, tmpfs)
    if rootfs:
        enter_rootfs(libc, rootfs, binds, cwd, privileged)
    if privileged:
        os.execvp(command[0], command)
    drop_capabilities(libc, last)
    _prctl(libc, PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")
    install_seccomp(libc, program)
    try:
        os.execvp(command[0], command)
    except OSError as e:
        sys.stderr.write(f"unpriv_exec: cannot run {command[0]}: {e.strerror}\n")
        return 127 if isinstance(e, FileNotFoundError) else 126
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
