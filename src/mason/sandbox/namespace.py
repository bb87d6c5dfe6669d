"""The privileged RUN sandbox: Linux namespaces, private mounts, pivot_root.

Design (see also ``nsinit.py`` for the process tree):

1. In mason (host side), :class:`~mason.sandbox.stubs.Stubs` resolves every mount target inside
   the root and creates missing ones as stubs; the run's scratch dir (under the build's work
   dir) gets a copy of the host's ``/etc/resolv.conf`` and a generated ``/etc/hosts``, so a RUN
   writing them changes throw-away copies, never the host's files.
2. The helper process creates mount/PID/UTS/IPC (and for ``--network=none`` network)
   namespaces, mounts ``/proc``, a tmpfs ``/dev`` with bind-mounted host nodes, devpts and
   ``/dev/shm``, a read-only ``/sys``, the two ``/etc`` files and the caller's mounts, all in
   its private mount namespace, then pivot_roots into the root and runs the command as the
   resolved user.
3. Output is streamed line by line to the caller's callback.  On exit, timeout or cancel the
   helper is gone and with it the namespaces: every process and every mount.  Then the stubs
   are removed (and their parent dirs' mtimes restored), so none of this reaches the layer.

ctypes ``unshare(2)`` in a small helper was chosen over util-linux ``unshare``: both start in
~15-25 ms on this machine (Python start-up dominates), but the helper also needs to mount and
pivot_root, which the util-linux tool cannot do for us, so one process does everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import tempfile
import threading
import time
from pathlib import Path

from mason.errors import BuildError
from mason.sandbox import linux
from mason.sandbox.confinement import Confinement, for_security
from mason.sandbox.helperproc import DEV_NODES, host_resolv, hosts_file, show, spawn, user_plan
from mason.sandbox.spec import RunSpec
from mason.sandbox.stream import OutputCallback, pump
from mason.sandbox.stubs import Stubs
from mason.sandbox.usernet import UserNet, resolv_conf

_NSINIT = str(Path(__file__).with_name("nsinit.py"))


class NamespaceRunner:
    """Runs RUN steps in new namespaces.  ``scratch_dir`` is the build's own work dir."""

    name = "namespaces"

    def __init__(self, scratch_dir: str | os.PathLike):
        self.scratch_dir = Path(scratch_dir)

    def run(self, spec: RunSpec, output: OutputCallback, *, cancel: threading.Event | None = None) -> int:
        """Run ``spec``; return the command's exit code (128+N when killed by signal N).

        Raises :class:`BuildError` when the sandbox cannot be set up, on timeout and on cancel.
        """
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        confinement = for_security(spec.security)
        with tempfile.TemporaryDirectory(dir=self.scratch_dir, prefix="run-") as tmp, Stubs(spec.root) as stubs:
            plan = {
                "root": os.path.abspath(spec.root), "argv": list(spec.argv), "env": list(spec.env),
                "cwd": spec.cwd, "hostname": spec.hostname, "network": spec.network,
                "user": user_plan(spec.user), "confine": confinement.helper_plan(), "nodev": confinement.nodev,
                "ops": mount_plan(spec, stubs, Path(tmp), confinement), "parent_pid": os.getpid(),
            }
            return _execute(plan, spec, output, cancel)


def _execute(plan: dict, spec: RunSpec, output: OutputCallback, cancel: threading.Event | None) -> int:
    go_r, go_w = os.pipe()
    try:
        proc, streams, st_r = spawn(_NSINIT, {**plan, "go_fd": go_r}, extra_fds=(go_r,))
    except BaseException:
        os.close(go_w)
        raise
    finally:
        os.close(go_r)
    try:
        with contextlib.ExitStack() as network:
            early = _attach_network(spec, proc.pid, st_r, go_w, network)
            deadline = time.monotonic() + spec.timeout if spec.timeout else None
            outcome, status = pump(streams, output, status_fd=st_r, deadline=deadline, cancel=cancel)
            if outcome != "eof":
                proc.kill()  # PDEATHSIG takes PID 1 and so the whole namespace with it
                pump(streams, output, status_fd=st_r)
            helper_rc = proc.wait()
        status = early + status
    finally:
        os.close(go_w)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for fd in (*streams, st_r):
            os.close(fd)
    if outcome == "timeout":
        raise BuildError(f"RUN {show(spec.argv)} timed out after {spec.timeout:g}s; all its processes were killed")
    if outcome == "cancelled":
        raise BuildError(f"RUN {show(spec.argv)} was cancelled; all its processes were killed")
    messages = [json.loads(line) for line in status]
    for m in messages:
        if "error" in m:
            raise BuildError(f"cannot start RUN {show(spec.argv)}: {m['error']}")
    for m in messages:
        if "exit" in m:
            return int(m["exit"])
    raise BuildError(f"the sandbox for RUN {show(spec.argv)} exited with {helper_rc} before reporting a result")


def _attach_network(spec: RunSpec, helper_pid: int, st_r: int, go_w: int, stack: contextlib.ExitStack) -> list[bytes]:
    """For ``network=sandbox``: wait until the helper has its network namespace, attach
    slirp4netns to it (from mason: outside every namespace of the RUN), then let it go on.
    Returns the status lines read meanwhile (an error instead of the namespace, usually)."""
    if spec.network != "sandbox":
        return []
    lines: list[bytes] = []
    buf = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not select.select([st_r], [], [], 0.5)[0]:
            continue
        chunk = os.read(st_r, 4096)
        if not chunk:
            return lines + ([buf] if buf else [])
        *done, buf = (buf + chunk).split(b"\n")
        for line in done:
            if json.loads(line).get("netns"):
                stack.enter_context(UserNet(helper_pid, host_loopback=spec.host_loopback))
                os.write(go_w, b"g")
                return lines + ([buf] if buf else [])
            lines.append(line)
    raise BuildError("the RUN sandbox did not create its network namespace within 30s")


def mount_plan(spec: RunSpec, stubs: Stubs, tmp: Path, confinement: Confinement | None = None) -> list[dict]:
    """The helper's mount operations, with targets resolved (and stubbed) inside the root."""
    confinement = confinement or for_security(spec.security)
    nodev = linux.MS_NODEV if confinement.nodev else 0
    ops: list[dict] = []

    def mount(target, fstype=None, source=None, flags=0, data=None, readonly=False):
        ops.append({"op": "mount", "target": target, "fstype": fstype, "source": source,
                    "flags": flags, "data": data, "readonly": readonly, "nodev": bool(nodev)})

    nosuid_nodev_noexec = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
    proc = stubs.ensure("/proc", is_dir=True)
    mount(proc, "proc", "proc", nosuid_nodev_noexec)
    for path in confinement.readonly_paths:
        ops.append({"op": "readonly", "target": proc + path[len("/proc"):]})
    dev = stubs.ensure("/dev", is_dir=True)
    # nodev: a node the RUN mknods here does not open; the standard nodes are binds of their own
    mount(dev, "tmpfs", "tmpfs", linux.MS_NOSUID | linux.MS_NOEXEC | nodev, "mode=755,size=65536k")
    for node in DEV_NODES:
        ops.append({"op": "touch", "path": f"{dev}/{node}"})
        ops.append({"op": "mount", "target": f"{dev}/{node}", "source": f"/dev/{node}", "flags": linux.MS_BIND})
    ops.append({"op": "mkdir", "path": f"{dev}/pts"})
    mount(f"{dev}/pts", "devpts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
    ops.append({"op": "symlink", "path": f"{dev}/ptmx", "target": "pts/ptmx"})
    ops.append({"op": "mkdir", "path": f"{dev}/shm"})
    mount(f"{dev}/shm", "tmpfs", "shm", nosuid_nodev_noexec, "mode=1777,size=65536k")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        ops.append({"op": "symlink", "path": f"{dev}/{name}", "target": target})
    sys_dir = stubs.ensure("/sys", is_dir=True)
    mount(sys_dir, "sysfs", "sysfs", nosuid_nodev_noexec | (linux.MS_RDONLY if confinement.sysfs_readonly else 0))
    for path in confinement.masked_paths:   # /proc/... and /sys/... paths, under their mounts
        top, rest = path[1:].split("/", 1)
        ops.append({"op": "mask", "target": f"{proc if top == 'proc' else sys_dir}/{rest}"})

    resolv = tmp / "resolv.conf"
    # a host without resolver config gives an empty one; the RUN's own network has its own DNS
    resolv.write_bytes(resolv_conf(host_resolv()) if spec.network == "sandbox" else host_resolv())
    hosts = tmp / "hosts"
    hosts.write_bytes(hosts_file(spec.hostname))
    for path, source in (("/etc/resolv.conf", resolv), ("/etc/hosts", hosts)):
        mount(stubs.ensure(path, is_dir=False), source=str(source), flags=linux.MS_BIND)

    for i, m in enumerate(spec.mounts):
        if m.kind == "bind" and m.in_memory:
            # A memfd cannot be bind-mounted (it is on no mount of this namespace): its bytes are
            # copied into the RUN's own /dev tmpfs, bound at the target and unlinked from /dev.
            # They stay in memory and vanish with the RUN's mount namespace.
            ops.append({"op": "memory_file", "source": str(m.source), "staging": f"{dev}/.mason-secret-{i}"})
            mount(stubs.ensure(m.target, is_dir=False), source=f"{dev}/.mason-secret-{i}", flags=linux.MS_BIND,
                  readonly=True)
            ops.append({"op": "unlink", "path": f"{dev}/.mason-secret-{i}"})
        elif m.kind == "bind":
            if not m.source.exists():
                raise BuildError(f"mount source {m.source} for {m.target} does not exist")
            if m.target.startswith("/dev/") and ".." not in m.target:
                # Below the /dev tmpfs (the heredoc script dir /dev/pipes): a stub in the root's
                # /dev would be hidden by that tmpfs, so the mount point is made inside it.
                target = f"{dev}/{m.target[len('/dev/'):].strip('/')}"
                if m.source.is_dir():
                    ops.append({"op": "mkdir", "path": target})
                else:
                    ops.append({"op": "mkdir", "path": os.path.dirname(target)})
                    ops.append({"op": "touch", "path": target})
            else:
                target = stubs.ensure(m.target, is_dir=m.source.is_dir())
            mount(target, source=str(m.source), flags=linux.MS_BIND | linux.MS_REC, readonly=m.readonly)
        else:
            data = f"mode={m.mode:o}" + (f",size={m.size_bytes}" if m.size_bytes else "")
            flags = linux.MS_NOSUID | linux.MS_NODEV | (linux.MS_RDONLY if m.readonly else 0)
            mount(stubs.ensure(m.target, is_dir=True), "tmpfs", "tmpfs", flags, data)
    return ops
