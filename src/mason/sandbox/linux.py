"""Thin ctypes wrappers over the Linux syscalls Python 3.11 does not expose.

Python 3.11 has no ``os.unshare``, ``mount``, ``umount2``, ``pivot_root`` or ``prctl``; a
ctypes call costs microseconds (measured), a fork of util-linux milliseconds, so mason calls libc directly
instead of forking util-linux tools for every mount.  This module holds constants and functions
only (no state), and imports nothing from mason except errors-free stdlib, so the sandbox helper
process (``nsinit``) can import it with ``python -I -S``.
"""

from __future__ import annotations

from collections import namedtuple

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

SYS_pivot_root = {"x86_64": 155, "aarch64": 41}


def _libc() -> ctypes.CDLL:
    # dlopen(NULL): the symbols libc already provides to the interpreter.  Cheap, unlike
    # ctypes.util.find_library, which spawns ldconfig on every call.
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc().unshare(ctypes.c_int(flags)), f"unshare(0x{flags:x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = (lambda s: None if s is None else os.fsencode(s))
    res = _libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    _check(res, f"mount {source or fstype} on {target}")


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc().umount2(os.fsencode(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    number = SYS_pivot_root.get(os.uname().machine)
    if number is None:
        raise OSError(38, f"pivot_root: unknown syscall number on {os.uname().machine}")
    res = _libc().syscall(ctypes.c_long(number), os.fsencode(new_root), os.fsencode(put_old))
    _check(res, "pivot_root")


def prctl(option: int, arg: int) -> None:
    _check(_libc().prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0),
                         ctypes.c_ulong(0), ctypes.c_ulong(0)), f"prctl({option})")


def prctl3(option: int, arg2: int, arg3: int = 0) -> None:
    _check(_libc().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                         ctypes.c_ulong(0), ctypes.c_ulong(0)), f"prctl({option})")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capget() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of the calling thread, 64-bit masks."""
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc().capget(ctypes.byref(header), data), "capget")
    return tuple(data[0].__getattribute__(f) | (data[1].__getattribute__(f) << 32)
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    for i in (0, 1):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    _check(_libc().capset(ctypes.byref(header), data), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def seccomp_filter(program: bytes) -> None:
    """Install a classic BPF seccomp filter (``struct sock_filter[]``) on the calling thread.
    Without no_new_privs this needs CAP_SYS_ADMIN, so call it before dropping capabilities."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    _check(_libc().prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                         ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl(PR_SET_SECCOMP)")


# point: where it is mounted; source: e.g. /dev/loop3 or "overlay". A namedtuple, not a
# dataclass: the namespace probe runs this file as a script (capabilities.py), where
# dataclasses cannot resolve the module of a class.
Mount = namedtuple("Mount", "point fstype source")


def mount_table(mountinfo: str = "/proc/self/mountinfo") -> list[Mount]:
    """The mounts of the calling process's namespace, in mount order (octal escapes decoded)."""
    mounts = []
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            # single spaces separate fields; a mount made with an empty source has an empty one
            fields = line.rstrip("\n").split(" ")
            rest = fields[fields.index("-") + 1:]   # optional fields end at the "-" separator
            mounts.append(Mount(_unescape(fields[4]), rest[0], _unescape(rest[1])))
    return mounts


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points of the calling process's namespace, in mount order (octal escapes decoded)."""
    return [m.point for m in mount_table(mountinfo)]


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
