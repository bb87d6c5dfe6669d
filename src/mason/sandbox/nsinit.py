"""The sandbox helper process: new namespaces, mounts, pivot_root, then the command.

Started by :class:`mason.sandbox.namespace.NamespaceRunner` as
``python -I -S nsinit.py`` with the JSON plan on stdin, the command's stdout/stderr
pipes on fds 1/2 and a status pipe (fd number in the plan).  A separate process (not
``os.fork`` of mason) because mason may run builds in threads and forking a threaded
interpreter is unsafe; ``-I -S`` keeps start-up near 15 ms.

Process tree and why::

    mason ── helper (unshare: mount, UTS, IPC[, net] ns; PID ns for its children)
               └── init = PID 1 of the new PID ns: mounts, pivot_root, reaps zombies
                     └── the command (setgroups/setgid/setuid, chdir, execvpe)

* When the command exits, init exits; the kernel then SIGKILLs every process left in the PID
  namespace (background daemons included), which closes the output pipes.
* helper and init set PR_SET_PDEATHSIG=SIGKILL: killing the helper (timeout, cancel, mason
  dying) takes init, and so the whole namespace, with it.
* Every mount is made in the private mount namespace (propagation set to private first): they
  vanish with it and never appear in the host's mount table, even if mason is SIGKILLed.

Mount targets arrive already resolved inside the root by the parent (no symlink in them), and
the mounts are made before pivot_root, so host-side sources can still be reached.
"""

import json
import os
import signal
import socket
import struct
import sys
import ctypes


def _sibling(name: str):
    """Load a sibling module by path: importing the mason package would cost start-up time."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"_mason_{name}", os.path.join(os.path.dirname(__file__), f"{name}.py"))
    assert spec is not None and spec.loader is not None, f"{name}.py beside this helper"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Loaded before pivot_root hides this file's directory (the command child needs them after it).
_LINUX = _sibling("linux")
_PRIVILEGES = _sibling("privileges")


def main() -> int:
    linux = _LINUX
    plan = json.loads(sys.stdin.buffer.read())
    status_fd = plan["status_fd"]
    os.set_inheritable(status_fd, False)
    go_fd = plan.get("go_fd")
    if go_fd is not None and plan["network"] != "sandbox":
        os.close(go_fd)  # only the user-mode network waits for it; the command must not inherit it
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != plan["parent_pid"]:
        return 125  # mason died before we armed PDEATHSIG
    flags = linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
    if plan["network"] != "host":
        flags |= linux.CLONE_NEWNET
    try:
        linux.unshare(flags)
    except OSError as e:
        return _fail(status_fd, f"cannot create namespaces: {e.strerror}")
    if plan["network"] == "sandbox":
        # mason attaches user-mode networking to this network namespace (it must run outside
        # every namespace of the RUN), then says go; EOF instead means it gave up.
        os.write(status_fd, b'{"netns": true}\n')
        if os.read(go_fd, 1) != b"g":
            return 125
        os.close(go_fd)
    # getppid() is 0 inside the new PID namespace, so init learns whether the helper is still
    # alive from a pipe instead: EOF on it means the helper died before PDEATHSIG was armed.
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(alive_w)
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
            import select
            if select.select([alive_r], [], [], 0)[0]:
                os._exit(125)
            os.close(alive_r)
            os._exit(_init(linux, plan, status_fd))
        except BaseException as e:  # noqa: BLE001  (report anything, never hang)
            os._exit(_fail(status_fd, f"sandbox setup failed: {e}"))
    os.close(alive_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _fail(status_fd: int, message: str) -> int:
    os.write(status_fd, (json.dumps({"error": message}) + "\n").encode())
    return 125


def _init(linux, plan: dict, status_fd: int) -> int:
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    name = plan["hostname"].encode()
    if ctypes.CDLL(None, use_errno=True).sethostname(name, len(name)) != 0:
        raise OSError(ctypes.get_errno(), "sethostname")
    if plan["network"] != "host":
        _loopback_up()
    root = plan["root"]
    linux.mount(root, root, None, linux.MS_BIND | linux.MS_REC)  # pivot_root needs a mount point
    if plan["nodev"]:
        # No device cgroup: device nodes the RUN creates (it has CAP_MKNOD, as in Docker) or an
        # image ships must not open, so the root is nodev; only /dev's own binds are not.
        linux.mount(None, root, None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_NODEV)
    for op in plan["ops"]:
        _apply(linux, op)
    os.chdir(root)  # this process only: never mason's
    linux.pivot_root(".", ".")
    linux.umount2(".", linux.MNT_DETACH)  # the host's tree is gone from this namespace
    os.chdir("/")
    user = plan["user"]
    _make_workdir(plan["cwd"], user["uid"], user["gid"])
    os.write(status_fd, b'{"started": true}\n')

    child = os.fork()
    if child == 0:
        _exec_command(plan, user)
    code = 0
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            code = code if code >= 0 else 128 - code
            break
    os.write(status_fd, (json.dumps({"exit": code}) + "\n").encode())
    return code  # leaving PID 1 kills every process still in the namespace


def _exec_command(plan: dict, user: dict) -> None:
    try:
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.setsid()
        _PRIVILEGES.enter(_LINUX, plan["confine"], user)
    except OSError as e:
        # a setup failure, not the command's: reported as such (the status fd closes at exec)
        os._exit(_fail(plan["status_fd"], f"cannot confine the command: {e}"))
    try:
        os.chdir(plan["cwd"])
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in plan["env"])
        os.execvpe(plan["argv"][0], plan["argv"], env)
    except OSError as e:
        os.write(2, f"mason: cannot run {plan['argv'][0]}: {e.strerror}\n".encode())
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)
    os._exit(127)


def _make_workdir(cwd: str, uid: int, gid: int) -> None:
    path = "/"
    for part in [p for p in cwd.split("/") if p]:
        path = os.path.join(path, part)
        if not os.path.lexists(path):
            os.mkdir(path, 0o755)
            os.chown(path, uid, gid)


def _apply(linux, op: dict) -> None:
    kind = op["op"]
    if kind == "mount":
        linux.mount(op.get("source"), op["target"], op.get("fstype"), op.get("flags", 0), op.get("data"))
        extra = (linux.MS_RDONLY if op.get("readonly") else 0) | (linux.MS_NODEV if op.get("nodev") else 0)
        if extra and op.get("flags", 0) & linux.MS_BIND:
            # A bind ignores MS_RDONLY and MS_NODEV: they need a second, remount step.
            linux.mount(None, op["target"], None, linux.MS_REMOUNT | linux.MS_BIND | extra)
    elif kind == "mask":
        # Docker's masked paths: hidden by an empty read-only tmpfs (dirs) or /dev/null (files).
        if os.path.isdir(op["target"]) and not os.path.islink(op["target"]):
            linux.mount("tmpfs", op["target"], "tmpfs", linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV
                        | linux.MS_NOEXEC, "size=0,mode=755")
        elif os.path.lexists(op["target"]):
            linux.mount("/dev/null", op["target"], None, linux.MS_BIND)
    elif kind == "readonly":
        if os.path.lexists(op["target"]):
            keep = linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC
            linux.mount(op["target"], op["target"], None, linux.MS_BIND | linux.MS_REC)
            linux.mount(None, op["target"], None, linux.MS_REMOUNT | linux.MS_BIND | linux.MS_RDONLY | keep)
    elif kind == "mkdir":
        os.makedirs(op["path"], mode=op.get("mode", 0o755), exist_ok=True)
    elif kind == "touch":
        os.close(os.open(op["path"], os.O_CREAT | os.O_WRONLY, 0o666))
    elif kind == "symlink":
        os.symlink(op["target"], op["path"])
    elif kind == "chmod":
        os.chmod(op["path"], op["mode"])
    elif kind == "memory_file":
        _copy_memory_file(op["source"], op["staging"])
    elif kind == "unlink":
        os.unlink(op["path"])
    else:
        raise ValueError(f"unknown sandbox op {kind}")


def _copy_memory_file(source: str, staging: str) -> None:
    """A secret (mason's memfd, reached through /proc) copied onto the RUN's /dev tmpfs with
    its mode and owner: memory to memory, never a disk."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(src)
        dst = os.open(staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            while True:
                chunk = os.read(src, 1 << 16)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dst, view):]
            os.fchown(dst, st.st_uid, st.st_gid)
            os.fchmod(dst, st.st_mode & 0o7777)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _loopback_up() -> None:
    """``ip link set lo up`` for ``--network=none`` (Docker's none network has a working lo)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl_ioctl(s, siocgifflags, req))[1]
        fcntl_ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def fcntl_ioctl(sock: socket.socket, request: int, arg: bytes) -> bytes:
    import fcntl
    return fcntl.ioctl(sock.fileno(), request, arg)


if __name__ == "__main__":
    sys.exit(main())
