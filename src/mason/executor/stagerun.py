"""Running a build's stages: one after another, or independent ones at once.

A stage may start once every stage it reads has finished: its ``FROM <stage>`` base, each
``COPY --from=<stage>`` and ``RUN --mount=from=<stage>`` (``Stage.deps``). At most ``jobs``
stages run at once, each on its own worker thread; the calling thread only schedules and
waits, so a signal (which Python delivers to the main thread) always reaches it.

The set of stages and their list order are the caller's (Kaniko's file order, or the
target's needs). Every scheduling edge points forward in that list, so with ``jobs=1`` the
stages run exactly in list order, on the calling thread, as a plain loop. A stage that reads
a stage *later* in the list (``COPY --from`` a later stage) fails in list order with "not
built yet"; to fail the same way when run in parallel, the later stage is held back until
the reader has finished, instead of racing it.

When a stage fails, ``cancel`` is set at once: the other stages stop at their next step, a
running RUN is killed, an extraction stops at its next read. Their own "cancelled" errors
are not the build's error: the first real failure is. The caller's thread never returns
before every worker has stopped, so nothing they mounted or wrote outlives the build.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence

from mason.errors import BuildError


def default_jobs() -> int:
    """The CPUs this process may run on (cgroup/affinity aware where the OS says), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def schedule_waits(stages: Sequence) -> dict[int, set[int]]:
    """For each stage index, the stage indexes that must finish before it starts.

    ``stages`` in list order. A dependency earlier in the list is waited for; a dependency
    later in the list instead waits for the reader (see the module docstring); one outside
    the list is never built, so there is nothing to wait for.
    """
    position = {s.index: i for i, s in enumerate(stages)}
    waits: dict[int, set[int]] = {s.index: set() for s in stages}
    for stage in stages:
        for dep in stage.deps:
            if dep not in position or dep == stage.index:
                continue
            if position[dep] < position[stage.index]:
                waits[stage.index].add(dep)
            else:
                waits[dep].add(stage.index)
    return waits


class StageCancelled(BuildError):
    """A stage stopped because another one failed (or the build is stopping): never the
    build's reported error."""


def run_stages(stages: Sequence, run_stage: Callable[[object], object], *, jobs: int,
               cancel: threading.Event, done: Callable[[object, object], None]) -> None:
    """Run ``run_stage(stage)`` for every stage, honouring dependencies, at most ``jobs`` at once.

    ``done(stage, result)`` is called on the calling thread as each stage finishes, before
    any stage waiting for it starts (the executor records the result there). Raises the
    first failure; on an exception in the calling thread itself (KeyboardInterrupt, SIGTERM)
    sets ``cancel``, waits for the running stages to stop, and re-raises it.
    """
    if jobs <= 1 or len(stages) <= 1:
        for stage in stages:
            if cancel.is_set():
                raise StageCancelled("the build was cancelled")
            done(stage, run_stage(stage))
        return
    waits = schedule_waits(stages)
    pending = list(stages)
    finished: set[int] = set()
    running: dict[Future, object] = {}
    first: list[BaseException] = []
    lock = threading.Lock()

    def work(stage):
        try:
            return run_stage(stage)
        except BaseException as exc:
            with lock:
                if not first and not (cancel.is_set() and isinstance(exc, BuildError)):
                    first.append(exc)
                cancel.set()       # the siblings stop now, not when the main thread looks
            raise

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mason-stage")
    try:
        while pending or running:
            if not cancel.is_set():
                for stage in list(pending):
                    if len(running) >= jobs:
                        break
                    if waits[stage.index] <= finished:
                        pending.remove(stage)
                        running[pool.submit(work, stage)] = stage
            if not running:
                break
            # A timeout keeps the wait interruptible by signals on every platform.
            completed, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in completed:
                stage = running.pop(future)
                if future.exception() is None:
                    done(stage, future.result())
                    finished.add(stage.index)
    except BaseException:
        cancel.set()
        _drain(running)
        raise
    finally:
        pool.shutdown(wait=True)
    if first:
        raise first[0]
    if cancel.is_set():
        raise StageCancelled("the build was cancelled")


def _drain(running: dict[Future, object]) -> None:
    """Wait for the stages still running to notice ``cancel`` and unwind (their RUN killed,
    mounts released). A second signal is ignored by the CLI's handler meanwhile."""
    while running:
        completed, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
        for future in completed:
            running.pop(future)
