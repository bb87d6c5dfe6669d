"""The RUN sandbox as a strategy: one interface, chosen from the detected isolation level."""

from __future__ import annotations

import os
import threading
from typing import Protocol

from mason.errors import NotSupportedError
from mason.sandbox.capabilities import Isolation
from mason.sandbox.spec import RunSpec
from mason.sandbox.stream import OutputCallback


class Runner(Protocol):
    """Runs one RUN step.  ``run`` returns the exit code; raises BuildError on setup failure,
    timeout or cancel; every process it started is gone when it returns."""

    name: str

    def run(self, spec: RunSpec, output: OutputCallback, *, cancel: threading.Event | None = None) -> int: ...


def make_runner(isolation: Isolation, scratch_dir: str | os.PathLike) -> Runner:
    """The runner for ``isolation`` (see :func:`mason.sandbox.capabilities.detect`/``choose``)."""
    if isolation.level == "namespaces":
        from mason.sandbox.namespace import NamespaceRunner
        return NamespaceRunner(scratch_dir)
    if isolation.level == "host-root":
        from mason.sandbox.hostroot import HostRootRunner
        return HostRootRunner(scratch_dir)
    if isolation.level == "chroot":
        from mason.sandbox.chroot import ChrootRunner
        return ChrootRunner(scratch_dir)
    raise NotSupportedError(f"RUN cannot be isolated here: {isolation.reason}",
                            hint="run mason as root, or grant CAP_SYS_CHROOT and CAP_MKNOD")
