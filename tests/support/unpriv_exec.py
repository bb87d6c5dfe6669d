"""Become a simulated unprivileged container, then exec a command (issue 9's test harness).

    python -I tests/support/unpriv_exec.py [--tmpfs DIR] [--root DIR [--bind SRC:DST]...] -- CMD [ARG...]

Run as root with full capabilities.  In this one process, before ``execvp(CMD)``:

1. a private mount namespace (``unshare(CLONE_NEWNS)``, ``/`` made ``MS_PRIVATE`` recursively),
   where ``/sys`` and ``/proc/sys`` are remounted read-only as Docker does, and an optional fresh
   tmpfs is mounted on ``DIR`` (the container's own scratch space);
   with ``--root``, ``DIR`` then becomes ``/`` as a container runtime makes it (see
   :func:`enter_container_root`): the host-root tests never run mason on the machine's own ``/``;
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
import encodings.ascii  # noqa: F401 (used after --root's pivot_root, when the host's stdlib is gone)
import os
import platform
import struct
import sys

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


MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
DEV_NODES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


def enter_container_root(libc: ctypes.CDLL, root: str, binds: list[tuple[str, str]], scratch: str) -> None:
    """Make ``root`` this process's ``/`` as a container runtime does (after the private mount
    namespace is entered): a fresh proc, the host's sysfs read-only, a tmpfs ``/dev`` with
    Docker's nodes, ``/dev/pts``, ``/dev/shm`` and the ``/dev/fd`` links, per-container
    ``/etc/resolv.conf``, ``/etc/hosts``, ``/etc/hostname`` bind-mounted from ``scratch``, the
    given volumes bound in; then ``pivot_root`` and the old root detached (so it is gone from
    this process's mount table, as in a real container)."""
    _mount(libc, root, root, None, MS_BIND | MS_REC)
    _mount(libc, "proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(libc, "/sys", f"{root}/sys", None, MS_BIND | MS_REC)
    _mount(libc, None, f"{root}/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    _mount(libc, "tmpfs", f"{root}/dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name, (major, minor) in DEV_NODES.items():
        os.mknod(f"{root}/dev/{name}", 0o020666, os.makedev(major, minor))
        os.chmod(f"{root}/dev/{name}", 0o666)
    for d in ("pts", "shm"):
        os.mkdir(f"{root}/dev/{d}")
    _mount(libc, "devpts", f"{root}/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    _mount(libc, "shm", f"{root}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    os.symlink("pts/ptmx", f"{root}/dev/ptmx")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    files = {"resolv.conf": "nameserver 127.0.0.11\n", "hosts": "127.0.0.1\tlocalhost\n172.17.0.2\tjob\n",
             "hostname": "job\n"}
    for name, text in files.items():
        path = os.path.join(scratch, name)
        with open(path, "w") as f:
            f.write(text)
        _mount(libc, path, f"{root}/etc/{name}", None, MS_BIND)
    for source, target in binds:
        dest = f"{root}/{target.lstrip('/')}"
        os.makedirs(dest, exist_ok=True)
        _mount(libc, source, dest, None, MS_BIND | MS_REC)
    os.chdir(root)
    _check(libc.syscall(ctypes.c_long(155 if platform.machine() == "x86_64" else 41), b".", b"."), "pivot_root")
    _check(libc.umount2(b".", ctypes.c_int(2)), "umount2(old root)")
    os.chdir("/")


def drop_capabilities(libc: ctypes.CDLL) -> None:
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        last = int(f.read())
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
    tmpfs, root, binds = None, None, []
    while argv[:1] in (["--tmpfs"], ["--root"], ["--bind"]) and len(argv) >= 2:
        if argv[0] == "--tmpfs":
            tmpfs = argv[1]
        elif argv[0] == "--root":
            root = argv[1]
        else:
            source, _, target = argv[1].partition(":")
            binds.append((source, target or source))
        argv = argv[2:]
    if argv[:1] != ["--"] or len(argv) < 2 or (root and not tmpfs):
        sys.stderr.write("usage: unpriv_exec.py [--tmpfs DIR] [--root DIR [--bind SRC:DST]...] -- CMD [ARG...]\n"
                         "  (--root needs --tmpfs: the container's own /etc files are made there)\n")
        return 2
    command = argv[1:]
    program = build_filter(platform.machine())  # before any restriction: fail early, unchanged
    libc = _libc()
    enter_mount_namespace(libc, tmpfs)
    if root:
        enter_container_root(libc, os.path.abspath(root), binds, tmpfs)
    drop_capabilities(libc)
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
