"""Run commands as a simulated unprivileged container: the harness's public API.

``run_unprivileged(argv)`` runs ``argv`` as uid 0 with exactly Docker's default capabilities,
``NoNewPrivs``, a seccomp filter denying mounts and new namespaces, in a private mount
namespace with a fresh tmpfs as ``TMPDIR`` (see ``unpriv_exec.py`` for what is set up and why).
Needs root with full capabilities on the host (the test machine), nothing else.

    res = run_unprivileged([sys.executable, "-m", "mason", "build", ...], env=env, timeout=300)
    assert res.returncode == 0, res.stderr

``run_in_container(rootfs, argv)`` runs ``argv`` the same way inside an unpacked image's root
filesystem, furnished as Docker furnishes a container (``/proc``, a ``/dev`` tmpfs, bind
mounts for volumes, ``pivot_root``; see ``unpriv_exec.py``), with only the given environment.

``python_in_harness(code)`` is a shortcut for running a Python snippet with mason's ``src`` on
``sys.path`` inside the harness.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.unpriv_exec import DOCKER_DEFAULT_CAPS, DOCKER_DEFAULT_MASK

__all__ = ["DOCKER_DEFAULT_CAPS", "DOCKER_DEFAULT_MASK", "EXEC_SCRIPT", "SRC",
           "container_argv", "python_in_harness", "run_in_container", "run_unprivileged"]

EXEC_SCRIPT = str(Path(__file__).with_name("unpriv_exec.py"))
SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_unprivileged(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                     cwd: str | os.PathLike | None = None, timeout: float = 120,
                     input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the harness; return its CompletedProcess (text stdout/stderr captured).

    ``env`` defaults to this process's environment; ``TMPDIR`` is always set to the harness's
    private tmpfs (gone when the command exits).  On timeout the whole process group is
    SIGKILLed and ``subprocess.TimeoutExpired`` raised.
    """
    if os.geteuid() != 0:
        raise PermissionError("the unprivileged-container harness must be started as root "
                              "(it needs CAP_SYS_ADMIN to prepare the mount namespace it then forbids)")
    scratch = tempfile.mkdtemp(prefix="mason-unpriv-")
    full_env = dict(os.environ if env is None else env)
    full_env["TMPDIR"] = scratch
    cmd = [sys.executable, "-I", EXEC_SCRIPT, "--tmpfs", scratch, "--", *argv]
    try:
        return _run(cmd, full_env, cwd, timeout, input)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def container_argv(rootfs: str | os.PathLike, argv: Sequence[str], *, cwd: str = "/",
                   binds: Sequence[tuple[str, str]] = (), privileged: bool = False) -> list[str]:
    """The harness command line of :func:`run_in_container`, for callers that start it
    themselves (to signal the command mid-way: the harness execs it, so its pid is the command's)."""
    cmd = [sys.executable, "-I", EXEC_SCRIPT, "--rootfs", str(rootfs), "--cwd", cwd]
    for source, target in binds:
        cmd += ["--bind", f"{source}:{target}"]
    if privileged:
        cmd.append("--privileged")
    return [*cmd, "--", *argv]


def run_in_container(rootfs: str | os.PathLike, argv: Sequence[str], *, env: Mapping[str, str],
                     cwd: str = "/", binds: Sequence[tuple[str, str]] = (), timeout: float = 120,
                     input: str | None = None, privileged: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``rootfs`` as a container would, with exactly ``env`` (the image's ENV
    plus the job's variables: nothing of this process's environment leaks in). ``binds`` are
    (host path, path inside) volumes; ``cwd`` is inside the root. ``argv[0]`` is looked up on
    ``env["PATH"]`` inside the root. ``privileged``: as ``docker run --privileged`` (every
    capability, no seccomp, the host's devices)."""
    if os.geteuid() != 0:
        raise PermissionError("the unprivileged-container harness must be started as root")
    return _run(container_argv(rootfs, argv, cwd=cwd, binds=binds, privileged=privileged), dict(env), None,
                timeout, input)


def _run(cmd: list[str], env: dict[str, str], cwd, timeout: float,
         input: str | None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, text=True, start_new_session=True,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        raise
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    _kill_group(proc.pid)  # stragglers the command left in its session
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def python_in_harness(code: str, *, env: Mapping[str, str] | None = None,
                      timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in the harness with mason's ``src`` importable."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = SRC
    return run_unprivileged([sys.executable, "-c", code], env=full_env, timeout=timeout)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
