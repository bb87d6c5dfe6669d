"""The chroot runner's helper: chroot, become the user, exec.  No namespaces, no mounts.

Started as ``python -I -S chrootinit.py`` with the JSON plan on stdin (see ``chroot.py``);
reports setup failures on the status fd, then execs the command (which keeps the helper's pid).
"""

import json
import os
import signal
import sys


def main() -> int:
    plan = json.loads(sys.stdin.buffer.read())
    status_fd = plan["status_fd"]
    os.set_inheritable(status_fd, False)
    user = plan["user"]
    try:
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
        os.setgroups(user["groups"])
        os.setgid(user["gid"])
        os.setuid(user["uid"])
        os.chdir(plan["cwd"])
    except OSError as e:
        os.write(status_fd, (json.dumps({"error": f"sandbox setup failed: {e}"}) + "\n").encode())
        return 125
    os.write(status_fd, b'{"started": true}\n')
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in plan["env"])
    try:
        os.execvpe(plan["argv"][0], plan["argv"], env)
    except OSError as e:
        os.write(2, f"mason: cannot run {plan['argv'][0]}: {e.strerror}\n".encode())
        return 127 if isinstance(e, FileNotFoundError) else 126
    return 127


if __name__ == "__main__":
    sys.exit(main())
