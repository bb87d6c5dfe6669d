"""The host-root RUN runner: the command runs in the container's own ``/``, as in Kaniko.

For Kaniko's home (root in an ordinary container, Docker's default capabilities and seccomp,
no mounts, no namespaces) when a RUN needs what a chroot cannot give: the container's real
``/proc``, ``/sys``, ``/dev`` (with ``/dev/pts``, ``/dev/fd``, ``/dev/shm``) and
``/etc/resolv.conf``/``/etc/hosts``. The build root *is* ``/`` (``mason.executor.hostrootfs``
prepares it, ``mason.snapshot.pristine`` resets and verifies it); this runner only starts the
command there:

* the same subreaper helper as the chroot runner (``chrootinit``, its chroot to ``/`` a no-op)
  switches to the step's uid/gid/groups and working directory, and kills every process the
  command left when it exits, on timeout and on cancel;
* the fallback "every process whose root is the step root" sweep of the chroot runner is *not*
  used: here that root is every process's, mason's own included; only the command's process
  group is swept;
* ``RUN --mount`` is emulated as in the chroot runner (:mod:`mason.sandbox.mountemu`);
  ``--network=none`` is refused (no network namespace).

Isolation strength: none beyond the container's. The container is the boundary, as for Kaniko.
"""

from __future__ import annotations

import os
import signal
import threading

from mason.errors import NotSupportedError
from mason.sandbox.spec import RunSpec
from mason.sandbox.stream import OutputCallback

_HINT = "run mason where mounts and namespaces are allowed (privileged), or drop the option; see docs/unprivileged.md"


class HostRootRunner:
    name = "host-root"

    def __init__(self, scratch_dir: str | os.PathLike):
        self.scratch_dir = str(scratch_dir)

    def run(self, spec: RunSpec, output: OutputCallback, *, cancel: threading.Event | None = None) -> int:
        from mason.sandbox.chroot import _execute
        from mason.sandbox.mountemu import EmulatedMounts

        if spec.network == "none":   # the default RUN shares the container's network here, as in chroot mode
            raise NotSupportedError(f"RUN --network={spec.network} needs a network namespace, which this "
                                    "environment does not allow (isolation: host-root)", hint=_HINT)
        for m in spec.mounts:
            if m.target.rstrip("/") in ("", "/proc", "/sys", "/dev"):
                raise NotSupportedError(f"RUN --mount at {m.target}: in host-root isolation that is the "
                                        "container's own mount", hint=_HINT)
        root = os.path.realpath(spec.root)
        with EmulatedMounts(root, spec.mounts, os.path.join(self.scratch_dir, "aside")) as placed:
            return _execute(root, spec, output, cancel, sweep=_sweep_group, secrets=placed.secret_files())


def _sweep_group(root: str, pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
