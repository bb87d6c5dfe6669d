"""The unprivileged RUN sandbox: chroot only, no namespaces, no mounts.

For CI containers that run as uid 0 with Docker's default capabilities and seccomp profile:
``unshare`` and ``mount`` are denied, ``chroot`` (CAP_SYS_CHROOT) and ``mknod`` (CAP_MKNOD) are
allowed.  What the command gets, and what it does not:

* ``/`` is the stage root via ``chroot``; the process runs as the resolved uid/gid/groups.
* ``/dev`` behaves as the privileged mode's private tmpfs (:class:`PrivateDir`): nodes
  ``null zero full random urandom tty`` created with ``mknod`` (CAP_MKNOD), an empty ``shm``,
  and whatever the RUN creates there, are removed afterwards; changing an entry the image ships
  there is refused.  No ``/dev/pts`` and no ``/dev/fd`` (it would point into the missing ``/proc``).
* ``/etc/resolv.conf`` and ``/etc/hosts`` are *written* into the root (no bind mounts) and the
  original bytes, mode, owner and times restored afterwards, so the layer does not change.  A
  RUN that edits them loses its edit, as under Docker; one that removes or replaces them is
  refused (with a bind mount that fails with EBUSY).
* **Missing**: ``/proc`` and ``/sys`` (cannot be mounted; tools reading ``/proc/self`` fail with
  their own error, and mason adds a line saying why to the failed RUN's output; creating files
  there is refused), PID/UTS/IPC isolation (``hostname`` is the container's) and
  ``--network=none`` (refused with :class:`NotSupportedError`, never silently ignored).
* ``RUN --mount`` (every type) is emulated without mounts (:mod:`mason.sandbox.mountemu`): the
  contents are placed at the target for the RUN and removed before the snapshot; a mount below
  ``/dev``, ``/proc`` or ``/sys`` is refused, except mason's own heredoc script dir ``/dev/pipes``.
* Processes: the helper (``chrootinit``) is a child subreaper that forks the command; when the
  command exits (or mason SIGTERMs the helper on timeout/cancel, or mason dies: the helper
  holds the read end of a lifeline pipe mason keeps open) the helper SIGKILLs every
  process left (daemons that left the group with ``setsid`` are reparented to it), then exits.
  As a fallback every process whose root directory is this root is SIGKILLed too.  Without a PID namespace a process that chroots
  elsewhere can still escape; the build's container is the outer boundary in this mode.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

from mason.errors import BuildError, NotSupportedError
from mason.sandbox.capabilities import capability_set
from mason.sandbox.confinement import CAPABILITIES, for_security
from mason.sandbox.helperproc import DEV_NODES, host_resolv, hosts_file, show, spawn, user_plan
from mason.sandbox.mountemu import EmulatedMounts
from mason.sandbox.privatedir import PrivateDir
from mason.sandbox.spec import Mount, RunSpec
from mason.sandbox.stream import OutputCallback, pump
from mason.sandbox.stubs import Stubs

_INIT = str(Path(__file__).with_name("chrootinit.py"))


class ChrootRunner:
    name = "chroot"

    def __init__(self, scratch_dir: str | os.PathLike):
        self.scratch_dir = Path(scratch_dir)

    def run(self, spec: RunSpec, output: OutputCallback, *, cancel: threading.Event | None = None) -> int:
        if spec.network == "none":
            raise NotSupportedError(f"RUN --network={spec.network} needs a network namespace, which this "
                                    "environment does not allow (isolation: chroot)", hint=_HINT)
        dev_copies = [m for m in spec.mounts if _is_dev_copy(m)]
        emulated = [m for m in spec.mounts if not _is_dev_copy(m)]
        for m in emulated:
            if m.target.rstrip("/") in ("", "/dev", "/proc", "/sys") or m.target.startswith(("/proc/", "/sys/", "/dev/")):
                raise NotSupportedError(f"RUN --mount at {m.target}: that directory is the sandbox's own and "
                                        "cannot take a mount here (isolation: chroot)", hint=_HINT)
        root = os.path.realpath(spec.root)
        with PrivateDir(root, "/proc", on_new="refuse"), PrivateDir(root, "/sys", on_new="refuse"), \
             PrivateDir(root, "/dev", on_new="discard") as dev, Stubs(root) as stubs:
            _populate_dev(dev.ensure(), dev_copies)
            with _Substituted(stubs, "/etc/resolv.conf", host_resolv()), \
                 _Substituted(stubs, "/etc/hosts", hosts_file(spec.hostname)), \
                 EmulatedMounts(root, emulated, str(self.scratch_dir / "aside")) as placed:
                code = _execute(root, spec, output, cancel, secrets=placed.secret_files())
        if code != 0:
            # Shown in the build error's output tail: the likeliest reason a RUN that works
            # elsewhere fails here (ps, /proc/self/..., bash's <(...), hostname).
            output("stderr", "mason: this RUN ran with chroot isolation: no /proc, /sys, /dev/pts or "
                             "/dev/fd (see docs/unprivileged.md)")
        return code


_HINT = "run mason where mounts and namespaces are allowed (privileged), or drop the option; see docs/unprivileged.md"


def _is_dev_copy(m: Mount) -> bool:
    """A read-only bind below ``/dev`` (mason's own heredoc script dir ``/dev/pipes``) can be a
    copy: ``/dev`` is private to the RUN in both modes (a tmpfs there, discarded here), so the
    copy never reaches the layer and the image is the same."""
    return m.kind == "bind" and bool(m.readonly) and m.target.startswith("/dev/") and ".." not in m.target


def _populate_dev(dev: str, mounts) -> None:
    """The privileged mode's ``/dev`` without a tmpfs: device nodes (mknod, CAP_MKNOD), an empty
    world-writable ``shm``, and copies of ``/dev`` binds.  :class:`PrivateDir` removes them all."""
    for node in DEV_NODES:
        path = os.path.join(dev, node)
        if not os.path.lexists(path):
            os.mknod(path, stat.S_IFCHR | 0o666, os.stat(f"/dev/{node}").st_rdev)
            os.chmod(path, 0o666)  # mknod applies the umask
    shm = os.path.join(dev, "shm")
    if not os.path.lexists(shm):
        os.mkdir(shm)
        os.chmod(shm, 0o1777)
    for m in mounts:
        dest = os.path.join(dev, m.target[len("/dev/"):].strip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.lexists(dest):
            raise BuildError(f"cannot provide {m.target}: the image already has it")
        if m.source.is_dir():
            shutil.copytree(m.source, dest, symlinks=True)
        else:
            shutil.copy2(m.source, dest)


class _Substituted:
    """Temporarily replace a file's bytes in the root; restore bytes, mode, owner and times."""

    def __init__(self, stubs: Stubs, target: str, content: bytes):
        self.stubs, self.target, self.content = stubs, target, content

    def __enter__(self) -> "_Substituted":
        self.path = self.stubs.ensure(self.target, is_dir=False)
        st = os.lstat(self.path)
        with open(self.path, "rb") as f:
            self.original = f.read()
        self.stat = st
        with open(self.path, "wb") as f:
            f.write(self.content)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            now = os.lstat(self.path)
        except FileNotFoundError:
            now = None
        if now is None or now.st_ino != self.stat.st_ino:
            # Removed or replaced (``rm``, ``sed -i``, ``mv``): in the privileged mode the file is
            # a bind mount and this fails with EBUSY.  Restoring a new inode would put the file
            # into the layer, so refuse (after putting the original back).
            if now is not None:
                os.unlink(self.path)
            self._restore_into_new_file()
            if exc is None:
                raise BuildError(f"the RUN removed or replaced {self.target}, which the sandbox provides "
                                 "(in the privileged mode a bind mount: the same RUN fails with EBUSY)",
                                 hint=f"write {self.target} in the image with COPY, or at container start")
            return
        with open(self.path, "wb") as f:
            f.write(self.original)
        self._restore_metadata()

    def _restore_into_new_file(self) -> None:
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        with open(fd, "wb") as f:
            f.write(self.original)
        self._restore_metadata()

    def _restore_metadata(self) -> None:
        os.chown(self.path, self.stat.st_uid, self.stat.st_gid)
        os.chmod(self.path, self.stat.st_mode & 0o7777)
        os.utime(self.path, ns=(self.stat.st_atime_ns, self.stat.st_mtime_ns))


def confine_plan(spec: RunSpec) -> dict:
    """BuildKit's capability set and seccomp filter, as far as this process can apply them.

    Installing a filter without ``no_new_privs`` needs CAP_SYS_ADMIN, which an unprivileged CI
    container lacks; there the container's own filter (Docker's default) already applies to the
    RUN, so mason adds none.  Only a process with neither sets ``no_new_privs`` to install one
    (setuid binaries then run without their privileges: the price of having a filter at all)."""
    confinement = for_security(spec.security)
    if confinement.seccomp_filter is None or capability_set() & (1 << CAPABILITIES["CAP_SYS_ADMIN"]):
        return confinement.helper_plan()
    if seccomp_mode() == 2:
        return confinement.helper_plan(seccomp=False)
    return confinement.helper_plan(no_new_privs=True)


def seccomp_mode() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return 0


def _execute(root: str, spec: RunSpec, output: OutputCallback, cancel: threading.Event | None,
             sweep=None, secrets: list[tuple[str, int, int]] | None = None) -> int:
    """Run the helper and the command; ``sweep(root, pgid)`` kills what is left (default: the
    process group and every process whose root is ``root``); the helper scrubs ``secrets``
    ((host path, dev, ino) of the placed secret files) when the command ends or mason dies."""
    kill_processes_in = sweep or _sweep_root
    # The lifeline: only the helper holds the read end; the write end (not inheritable) is
    # mason's, so the kernel hangs it up when mason dies, SIGKILL included (chrootinit).
    life_r, life_w = os.pipe()
    plan = {"root": root, "argv": list(spec.argv), "env": list(spec.env), "cwd": spec.cwd,
            "user": user_plan(spec.user), "confine": confine_plan(spec), "lifeline_fd": life_r,
            "secrets": [list(s) for s in secrets or ()]}
    try:
        proc, streams, st_r = spawn(_INIT, plan, extra_fds=(life_r,))
    except BaseException:
        os.close(life_w)
        raise
    finally:
        os.close(life_r)
    # When the command exits, kill what it left behind: that closes the pipes pump() waits on.
    reaper = threading.Thread(target=lambda: (proc.wait(), kill_processes_in(root, proc.pid)), daemon=True)
    try:
        reaper.start()
        deadline = time.monotonic() + spec.timeout if spec.timeout else None
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
        for fd in (*streams, st_r, life_w):
            os.close(fd)
    if outcome == "timeout":
        raise BuildError(f"RUN {show(spec.argv)} timed out after {spec.timeout:g}s; its processes were killed")
    if outcome == "cancelled":
        raise BuildError(f"RUN {show(spec.argv)} was cancelled; its processes were killed")
    for line in status:
        message = json.loads(line)
        if "error" in message:
            raise BuildError(f"cannot start RUN {show(spec.argv)}: {message['error']}")
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


def _sweep_root(root: str, pgid: int) -> None:
    kill_processes_in(root, pgid)


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
