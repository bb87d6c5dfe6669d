"""What both RUN runners share: the files and devices a RUN sees, and starting the helper.

Each runner hands its plan (JSON) to a small helper script run as ``python -I -S`` in its own
session with an empty environment; the helper reports errors and the exit status on a pipe
of its own, so the command's stdout and stderr stay untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mason.sandbox.users import ExecUser

# The device nodes every RUN gets in its /dev (Docker's minimal set, without consoles).
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")


def hosts_file(hostname: str) -> bytes:
    """The /etc/hosts a RUN sees: never the build host's."""
    return f"127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n".encode()


def host_resolv() -> bytes:
    """The build host's resolver configuration (empty when it has none)."""
    try:
        with open("/etc/resolv.conf", "rb") as f:
            return f.read()
    except OSError:
        return b""


def show(argv) -> str:
    """A command for an error message, cut to a readable length."""
    text = " ".join(argv)
    return text if len(text) <= 80 else text[:77] + "..."


def user_plan(user: ExecUser) -> dict:
    return {"uid": user.uid, "gid": user.gid, "groups": list(user.groups)}


def spawn(script: str, plan: dict, extra_fds: tuple[int, ...] = ()) -> tuple[subprocess.Popen, dict[int, str], int]:
    """Start ``script`` with ``plan`` on its stdin (``extra_fds`` are inherited too: the plan
    names them; the caller closes its copies).

    Returns the process, its output pipes (read end -> "stdout"/"stderr", for ``pump``) and
    the read end of its status pipe. The caller closes the three read ends.
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    st_r, st_w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-I", "-S", script], stdin=subprocess.PIPE,
                                stdout=out_w, stderr=err_w, pass_fds=(st_w, *extra_fds), close_fds=True,
                                start_new_session=True, env={})
    except BaseException:
        for fd in (out_r, out_w, err_r, err_w, st_r, st_w):
            os.close(fd)
        raise
    for fd in (out_w, err_w, st_w):
        os.close(fd)
    try:
        proc.stdin.write(json.dumps({**plan, "status_fd": st_w}).encode())
        proc.stdin.close()
    except BaseException:
        # The helper died before reading its plan: it has started nothing.
        proc.kill()
        proc.wait()
        for fd in (out_r, err_r, st_r):
            os.close(fd)
        raise
    return proc, {out_r: "stdout", err_r: "stderr"}, st_r
