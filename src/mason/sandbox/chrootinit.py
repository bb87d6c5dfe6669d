"""The chroot runner's helper: a subreaper that forks the command into the chroot.  No namespaces.

Started as ``python -I -S chrootinit.py`` with the JSON plan on stdin (see ``chroot.py``).

Why a supervisor instead of exec'ing the command: without a PID namespace the only
other way to find what a RUN left behind is reading ``/proc/PID/root``, which needs
CAP_SYS_PTRACE for processes of another uid; an unprivileged container (Docker's default caps)
has none, so a ``setsid`` daemon started by ``USER app`` was invisible to mason, kept the output
pipe open and hung the build.  As ``PR_SET_CHILD_SUBREAPER``, this helper inherits every orphan
of the command, so when the command exits (or on SIGTERM from mason: timeout, cancel) it kills
its children until ``waitpid`` reports none are left.  Only reading ``/proc/PID/stat`` (allowed
for any process) is needed.  The helper stays outside the chroot, as root, in its own process
group, so the command cannot signal it.

Why a lifeline pipe: a SIGKILLed mason cannot SIGTERM this helper, and nothing else would tell
it (PR_SET_PDEATHSIG fires when the *thread* that forked it exits, and mason forks helpers from
stage threads that end normally; without a PID namespace there is no namespace init whose
death kills the rest).  Mason keeps the write end of a pipe whose read end only this helper
holds (``lifeline_fd``); the kernel closes it when mason dies however it dies, the helper sees
the hang-up while it waits for the command, and kills the command's whole tree as on SIGTERM.
So a RUN never outlives mason, and the next build's cleanup finds no process pinning the stale
work dir (or its loop device).  Then the helper scrubs the RUN's secret files (``secrets`` in
the plan, see ``scrub.py``): a SIGKILLed mason cannot, and they lie on a disk.
"""

import ctypes
import json
import os
import select
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


class _Stop(Exception):
    pass


def _stop(signum, frame):
    raise _Stop()


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    plan = json.loads(sys.stdin.buffer.read())
    status_fd = plan["status_fd"]
    os.set_inheritable(status_fd, False)
    if plan.get("lifeline_fd") is not None:
        os.set_inheritable(plan["lifeline_fd"], False)   # the command must not hold it
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        _report(status_fd, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
        return 125
    pid = os.fork()
    if pid == 0:
        try:
            _child(plan, status_fd)
        finally:
            os._exit(127)
    os.close(status_fd)
    code = 128 + signal.SIGTERM
    try:
        code = _wait(pid, plan.get("lifeline_fd"))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish the cleanup below whatever happens
    except _Stop:  # mason's timeout/cancel, possibly racing the command's own exit
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _kill_descendants(pid)
    _scrub_secrets(plan.get("secrets") or ())
    return code if code >= 0 else 128 - code


def _wait(pid: int, lifeline) -> int:
    """The command's exit code; 128+SIGKILL when mason died first (the lifeline hung up)."""
    if lifeline is None:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    poller = select.poll()
    poller.register(lifeline, select.POLLIN | select.POLLHUP)
    try:
        pidfd = os.pidfd_open(pid)          # Linux 5.3: readable when the command exits
        poller.register(pidfd, select.POLLIN)
        tick = None
    except (AttributeError, OSError):
        tick = 50                           # older kernels: look every 50 ms
    while True:
        for fd, _ in poller.poll(tick):
            if fd == lifeline:
                return 128 + signal.SIGKILL  # mason is gone: nobody will read the result
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)


def _sibling(name: str):
    """A sibling module loaded by path (this helper runs without the mason package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"_mason_{name}", os.path.join(os.path.dirname(__file__), f"{name}.py"))
    assert spec is not None and spec.loader is not None, f"{name}.py beside this helper"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Loaded before the chroot hides this file's directory.
_LINUX = _sibling("linux")
_PRIVILEGES = _sibling("privileges")
_SCRUB = _sibling("scrub")


def _scrub_secrets(secrets) -> None:
    """Scrub the RUN's secret files once no process of it is left: when mason died mid-RUN
    (the lifeline hung up) nobody else would, and the root is on a disk (``scrub``)."""
    for path, dev, ino in secrets:
        try:
            _SCRUB.scrub_file(path, dev, ino)
        except OSError:
            pass   # mason's own undo (when it is alive) reports what cannot be removed


def _report(status_fd: int, error: str) -> None:
    os.write(status_fd, (json.dumps({"error": f"sandbox setup failed: {error}"}) + "\n").encode())


def _child(plan: dict, status_fd: int) -> None:
    user = plan["user"]
    try:
        os.setpgid(0, 0)  # own group: mason and this helper kill it, it cannot kill the helper's
        if plan["root"] != "/":      # host-root isolation: already there (no CAP_SYS_CHROOT needed)
            os.chroot(plan["root"])
        os.chdir("/")
        path = "/"
        for part in [p for p in plan["cwd"].split("/") if p]:
            path = os.path.join(path, part)
            if not os.path.lexists(path):
                os.mkdir(path, 0o755)
                os.chown(path, user["uid"], user["gid"])
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        _PRIVILEGES.enter(_LINUX, plan["confine"], user)
        os.chdir(plan["cwd"])
    except OSError as e:
        _report(status_fd, str(e))
        os._exit(125)
    os.write(status_fd, b'{"started": true}\n')
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in plan["env"])
    try:
        os.execvpe(plan["argv"][0], plan["argv"], env)
    except OSError as e:
        os.write(2, f"mason: cannot run {plan['argv'][0]}: {e.strerror}\n".encode())
        os._exit(127 if isinstance(e, FileNotFoundError) else 126)


def _kill_descendants(command_pid: int) -> None:
    """SIGKILL the command's group and every child of this subreaper until none is left."""
    me = os.getpid()
    while True:
        try:
            os.killpg(command_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in _children(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return  # no child left: every orphan came to us and is gone
        time.sleep(0.005)


def _children(parent: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[1]) == parent:
            found.append(int(name))
    return found


if __name__ == "__main__":
    sys.exit(main())
