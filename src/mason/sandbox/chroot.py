"""The unprivileged RUN sandbox (issue 9): chroot only, no namespaces, no mounts.

For CI containers that run as uid 0 with Docker's default capabilities and seccomp profile:
``unshare`` and ``mount`` are denied, ``chroot`` (CAP_SYS_CHROOT) and ``mknod`` (CAP_MKNOD) are
allowed.  What the command gets, and what it does not:

* ``/`` is the stage root via ``chroot``; the process runs as the resolved uid/gid/groups.
* ``/dev/{null,zero,full,random,urandom,tty}`` are created with ``mknod`` when missing and
  removed afterwards (stubs).  No ``/dev/pts``, ``/dev/shm`` or ``/dev/fd``.
* ``/etc/resolv.conf`` and ``/etc/hosts`` are *written* into the root (no bind mounts) and the
  original bytes, mode, owner and times restored afterwards, so the layer does not change.  A
  RUN that edits them loses its edit, as under Docker.
* **Missing**: ``/proc`` and ``/sys`` (cannot be mounted; tools reading ``/proc/self`` fail),
  PID/UTS/IPC isolation, ``--network=none`` and every ``RUN --mount`` (refused with
  :class:`NotSupportedError`, never silently ignored).
* Processes: the helper (``chrootinit``) is a child subreaper that forks the command; when the
  command exits (or mason SIGTERMs the helper on timeout/cancel) the helper SIGKILLs every
  process left (daemons that left the group with ``setsid`` are reparented to it), then exits.
  As a fallback every process whose root directory is this root is SIGKILLed too.  Without a PID namespace a process that chroots
  elsewhere can still escape; the build's container is the outer boundary in this mode.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from mason.errors import BuildError, NotSupportedError
from mason.sandbox.spec import RunSpec
from mason.sandbox.stream import OutputCallback, pump
from mason.sandbox.stubs import Stubs

_INIT = str(Path(__file__).with_name("chrootinit.py"))
_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")


class ChrootRunner:
    name = "chroot"

    def __init__(self, scratch_dir: str | os.PathLike):
        self.scratch_dir = Path(scratch_dir)

    def run(self, spec: RunSpec, output: OutputCallback, *, cancel: threading.Event | None = None) -> int:
        if spec.network != "host":
            raise NotSupportedError(f"RUN --network={spec.network} needs network namespaces, which this "
                                    "environment does not allow (isolation: chroot)")
        if spec.mounts:
            raise NotSupportedError(f"RUN --mount (at {spec.mounts[0].target}) needs mount rights, which this "
                                    "environment does not allow (isolation: chroot)")
        root = os.path.realpath(spec.root)
        with Stubs(root) as stubs:
            stubs.ensure("/dev", is_dir=True)
            for node in _DEV_NODES:
                stubs.ensure_device(f"/dev/{node}", f"/dev/{node}")
            with _Substituted(stubs, "/etc/resolv.conf", _host_resolv()), \
                 _Substituted(stubs, "/etc/hosts", f"127.0.0.1\tlocalhost {spec.hostname}\n"
                                                  "::1\tlocalhost ip6-localhost ip6-loopback\n"):
                return _execute(root, spec, output, cancel)


def _host_resolv() -> str:
    try:
        with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class _Substituted:
    """Temporarily replace a file's bytes in the root; restore bytes, mode, owner and times."""

    def __init__(self, stubs: Stubs, target: str, content: str):
        self.stubs, self.target, self.content = stubs, target, content.encode()

    def __enter__(self) -> "_Substituted":
        self.path = self.stubs.ensure(self.target, is_dir=False)
        st = os.lstat(self.path)
        with open(self.path, "rb") as f:
            self.original = f.read()
        self.stat = st
        with open(self.path, "wb") as f:
            f.write(self.content)
        return self

    def __exit__(self, *exc: object) -> None:
        with open(self.path, "wb") as f:
            f.write(self.original)
        os.chown(self.path, self.stat.st_uid, self.stat.st_gid)
        os.chmod(self.path, self.stat.st_mode & 0o7777)
        os.utime(self.path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))


def _execute(root: str, spec: RunSpec, output: OutputCallback, cancel: threading.Event | None) -> int:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    st_r, st_w = os.pipe()
    plan = {"root": root, "argv": list(spec.argv), "env": list(spec.env), "cwd": spec.cwd,
            "status_fd": st_w,
            "user": {"uid": spec.user.uid, "gid": spec.user.gid, "groups": list(spec.user.groups)}}
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", _INIT], stdin=subprocess.PIPE, stdout=out_w,
                                stderr=err_w, pass_fds=(st_w,), close_fds=True, start_new_session=True, env={})
    except BaseException:
        for fd in (out_r, out_w, err_r, err_w, st_r, st_w):
            os.close(fd)
        raise
    for fd in (out_w, err_w, st_w):
        os.close(fd)
    # When the command exits, kill what it left behind: that closes the pipes pump() waits on.
    reaper = threading.Thread(target=lambda: (proc.wait(), kill_processes_in(root, proc.pid)), daemon=True)
    try:
        proc.stdin.write(json.dumps(plan).encode())
        proc.stdin.close()
        reaper.start()
        deadline = time.monotonic() + spec.timeout if spec.timeout else None
        streams = {out_r: "stdout", err_r: "stderr"}
        outcome, status = pump(streams, output, status_fd=st_r, deadline=deadline, cancel=cancel)
        if outcome != "eof":
            stop_helper(proc)
            kill_processes_in(root, proc.pid)
            pump(streams, output)
        code = proc.wait()
        reaper.join()
    finally:
        if proc.poll() is None:
            stop_helper(proc)
            kill_processes_in(root, proc.pid)
            proc.wait()
        for fd in (out_r, err_r, st_r):
            os.close(fd)
    if outcome == "timeout":
        raise BuildError(f"RUN {' '.join(spec.argv)[:80]} timed out after {spec.timeout:g}s; its processes were killed")
    if outcome == "cancelled":
        raise BuildError(f"RUN {' '.join(spec.argv)[:80]} was cancelled; its processes were killed")
    for line in status:
        message = json.loads(line)
        if "error" in message:
            raise BuildError(f"cannot start RUN {' '.join(spec.argv)[:80]}: {message['error']}")
    return code if code >= 0 else 128 - code


def stop_helper(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Ask the helper (a subreaper, see chrootinit) to kill the command's whole tree and exit.

    Killing the helper itself first would orphan the tree to init, where only the ``/proc/*/root``
    scan could find it, and that scan cannot see other uids' processes without CAP_SYS_PTRACE."""
    try:
        proc.terminate()
        proc.wait(grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def kill_processes_in(root: str, pgid: int) -> None:
    """SIGKILL the process group ``pgid`` and every process whose root dir is ``root`` (a fallback
    for when the helper is gone; it misses other uids' processes without CAP_SYS_PTRACE)."""
    for _ in range(20):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        found = False
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                proc_root = os.readlink(f"/proc/{pid}/root")
            except OSError:
                continue
            if proc_root == root or proc_root.startswith(root + "/"):
                found = True
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if not found:
            return
        time.sleep(0.05)
