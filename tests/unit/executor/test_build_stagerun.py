"""The stage scheduler alone (mason.executor.stagerun): order, bound, dependencies, failures.

Stages here are plain values with ``index`` and ``deps``; ``run_stage`` functions record
what ran when, using events (not sleeps of a given length) to force the interleavings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from mason.executor.stagerun import StageCancelled, default_jobs, run_stages, schedule_waits
from mason.errors import BuildError


@dataclass(frozen=True)
class S:
    index: int
    deps: tuple[int, ...] = ()


def _run(stages, run_stage, jobs):
    results = {}
    order = []

    def done(stage, result):
        # the results of a stage's dependencies are recorded before it starts
        results[stage.index] = result
        order.append(stage.index)

    run_stages(stages, run_stage, jobs=jobs, cancel=threading.Event(), done=done)
    return results, order


def test_default_jobs_is_at_least_one():
    assert default_jobs() >= 1


def test_waits_follow_dependencies_and_hold_back_later_stages_read_early():
    stages = [S(0), S(1, (0,)), S(2, (0,)), S(3, (1, 2)), S(4, (5,)), S(5)]
    waits = schedule_waits(stages)
    assert waits == {0: set(), 1: {0}, 2: {0}, 3: {1, 2}, 4: set(), 5: {4}}
    # a dependency outside the list (never built) is not waited for
    assert schedule_waits([S(0, (7,))]) == {0: set()}


def test_one_job_runs_in_list_order_on_the_calling_thread():
    seen = []

    def run_stage(stage):
        seen.append((stage.index, threading.current_thread() is threading.main_thread()))
        return stage.index * 10

    results, order = _run([S(0), S(2), S(1, (0,))], run_stage, jobs=1)
    assert seen == [(0, True), (2, True), (1, True)]
    assert results == {0: 0, 2: 20, 1: 10} and order == [0, 2, 1]


def test_independent_stages_overlap_and_the_bound_holds():
    """Three independent stages, two jobs: exactly two run together, never three."""
    lock = threading.Lock()
    active, peak = [0], [0]
    both = threading.Barrier(2, timeout=10)

    def run_stage(stage):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        if stage.index in (0, 1):
            both.wait()        # fails (BrokenBarrierError) unless stages 0 and 1 overlap
        with lock:
            active[0] -= 1
        return stage.index

    results, _ = _run([S(0), S(1), S(2)], run_stage, jobs=2)
    assert results == {0: 0, 1: 1, 2: 2}
    assert peak[0] == 2


def test_a_stage_starts_only_after_its_dependencies_finished():
    finished = set()
    lock = threading.Lock()

    def run_stage(stage):
        with lock:
            assert set(stage.deps) <= finished, f"stage {stage.index} started before {stage.deps}"
        with lock:
            finished.add(stage.index)
        return stage.index

    stages = [S(0), S(1, (0,)), S(2, (0,)), S(3, (1, 2)), S(4), S(5, (3, 4))]
    results, order = _run(stages, run_stage, jobs=4)
    assert set(results) == {0, 1, 2, 3, 4, 5}
    assert order.index(3) > max(order.index(1), order.index(2))
    assert order[-1] == 5


def test_first_failure_is_raised_and_siblings_are_cancelled():
    """Stage 1 fails while stage 0 runs: stage 0 sees ``cancel`` and stops; stage 2 (which
    needs stage 0) never starts; the error raised is stage 1's, not stage 0's cancellation."""
    cancel = threading.Event()
    started = threading.Event()
    ran = []

    def run_stage(stage):
        ran.append(stage.index)
        if stage.index == 0:
            started.set()
            assert cancel.wait(10), "stage 0 was never told to stop"
            raise StageCancelled("stage 0 stopped")
        if stage.index == 1:
            assert started.wait(10)
            raise BuildError("Dockerfile:7: RUN false exited with code 1")
        return None

    with pytest.raises(BuildError, match="Dockerfile:7") as info:
        run_stages([S(0), S(1), S(2, (0,))], run_stage, jobs=2, cancel=cancel, done=lambda s, r: None)
    assert not isinstance(info.value, StageCancelled)
    assert sorted(ran) == [0, 1]


def test_an_exception_in_the_scheduling_thread_stops_the_workers_before_it_propagates():
    """KeyboardInterrupt raised from ``done`` stands in for a signal in the main thread: the
    running stage must have returned before run_stages re-raises."""
    cancel = threading.Event()
    stopped = threading.Event()

    def run_stage(stage):
        if stage.index == 1:
            assert cancel.wait(10)
            stopped.set()
            raise StageCancelled("stopped")
        return None

    def done(stage, result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stages([S(0), S(1)], run_stage, jobs=2, cancel=cancel, done=done)
    assert stopped.is_set()
