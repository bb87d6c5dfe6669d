"""Independent stages built at once (``stage_jobs``): same image, real overlap, clean failures.

Each Dockerfile is built with ``stage_jobs=1`` (one stage after another, in order) and with
several jobs; the image digests (reproducible builds) and the step records must be equal.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mason.errors import BuildError
from tests.integration.executor.buildhelpers import build, overlay_mounts_below, unpack, write_context
from tests.reliability.relhelpers import cli_env, mounts_under, processes_with_cmdline, work_dirs

# A diamond (base -> left, right -> final), FROM <stage>, COPY --from, RUN --mount=from=,
# a stage reading another (other <- left) and a stage nothing needs (unused).
DIAMOND = """\
ARG BASE
FROM ${BASE} AS base
RUN mkdir /shared && echo base > /base
FROM base AS left
RUN echo left > /shared/left && mkdir -p /deep/a/b && echo x > /deep/a/b/c
FROM base AS right
RUN echo right > /shared/right && rm /base
FROM ${BASE} AS other
COPY --from=left /shared/left /from-left
RUN cat /from-left > /other
FROM ${BASE} AS unused
RUN echo unused > /unused
FROM right AS final
COPY --from=left /shared/ /shared/
COPY --from=other /other /from-other
RUN --mount=type=bind,from=left,source=/deep,target=/mnt cat /mnt/a/b/c > /via-mount
"""


def _digest_and_steps(tmp: Path, name: str, ctx: Path, **kw):
    result, events = build(ctx, tmp / f"out-{name}", tmp / f"work-{name}", reproducible=True, **kw)
    return result.image_digest, [(s.step_id, s.instruction, s.layer_digest) for s in result.steps], result


@pytest.mark.parametrize("mode", ["overlay", "walk"])
@pytest.mark.parametrize("target", [None, "other"])
def test_parallel_build_gives_the_sequential_image(tmp_path, busybox_layout, mode, target):
    ctx = write_context(tmp_path / "ctx", DIAMOND)
    kw = dict(build_args={"BASE": f"oci:{busybox_layout}:latest"}, snapshot_mode=mode, target=target,
              skip_unused_stages=False)
    seq_digest, seq_steps, seq = _digest_and_steps(tmp_path, "seq", ctx, stage_jobs=1, **kw)
    par_digest, par_steps, _ = _digest_and_steps(tmp_path, "par", ctx, stage_jobs=3, **kw)
    assert par_digest == seq_digest
    assert par_steps == seq_steps       # records in stage order, whatever finished first
    if target is None:
        root = unpack(tmp_path / "out-par", tmp_path / "unpacked")
        assert (root / "shared/left").read_text() == "left\n"
        assert (root / "shared/right").read_text() == "right\n"
        assert (root / "from-other").read_text() == "left\n"
        assert (root / "via-mount").read_text() == "x\n"
        assert not (root / "base").exists() and not (root / "unused").exists()
    for work in ("work-seq", "work-par"):
        assert work_dirs(tmp_path / work) == [] and overlay_mounts_below(tmp_path / work) == []


def test_parallel_cached_build_gives_the_sequential_image_and_report(tmp_path, busybox_layout):
    """With the layer cache (a local OCI layout as cache repo): a cold parallel build, a warm
    one (every step a hit) and a sequential one give one digest and one report order."""
    ctx = write_context(tmp_path / "ctx", DIAMOND)
    kw = dict(build_args={"BASE": f"oci:{busybox_layout}:latest"}, skip_unused_stages=False, cache=True)
    cold, _, _ = _digest_and_steps(tmp_path, "cold", ctx, stage_jobs=3, cache_repo=f"oci:{tmp_path}/cache-a",
                                   cache_report=tmp_path / "cold.json", **kw)
    warm, warm_steps, result = _digest_and_steps(tmp_path, "warm", ctx, stage_jobs=3,
                                                 cache_repo=f"oci:{tmp_path}/cache-a",
                                                 cache_report=tmp_path / "warm.json", **kw)
    seq, seq_steps, _ = _digest_and_steps(tmp_path, "seq", ctx, stage_jobs=1, cache_repo=f"oci:{tmp_path}/cache-b",
                                          cache_report=tmp_path / "seq.json", **kw)
    assert cold == warm == seq
    assert [s.cache for s in result.steps if s.cache != "none"] and \
        all(s.cache == "hit" for s in result.steps if s.cache != "none")
    assert [s[:2] for s in warm_steps] == [s[:2] for s in seq_steps]

    def report_ids(name):
        doc = json.loads((tmp_path / name).read_text())
        return [s["step_id"] for s in doc["steps"]]

    assert report_ids("cold.json") == report_ids("warm.json") == report_ids("seq.json")
    assert report_ids("seq.json") == sorted(report_ids("seq.json"), key=lambda i: tuple(map(int, i.split("/"))))


# Each stage announces itself in a cache mount both see, then waits (bounded) for the other.
# Both find the other's mark only if they run at the same time: no timing threshold.
MEET = """\
ARG BASE
ARG PATIENCE=300
FROM ${BASE} AS a
ARG PATIENCE
RUN --mount=type=cache,id=meet,target=/meet touch /meet/a-started; i=0; \
    while [ ! -e /meet/b-started ] && [ $i -lt $PATIENCE ]; do sleep 0.1; i=$((i+1)); done; \
    if [ -e /meet/b-started ]; then echo overlapped; else echo alone; fi > /a; touch /meet/a-ended
FROM ${BASE} AS b
ARG PATIENCE
RUN --mount=type=cache,id=meet,target=/meet touch /meet/b-started; i=0; \
    while [ ! -e /meet/a-started ] && [ $i -lt $PATIENCE ]; do sleep 0.1; i=$((i+1)); done; \
    if [ -e /meet/a-started ]; then echo overlapped; else echo alone; fi > /b; touch /meet/b-ended
FROM ${BASE}
COPY --from=a /a /a
COPY --from=b /b /b
"""


@pytest.mark.parametrize("jobs,expected", [(2, "overlapped"), (1, "alone")])
def test_independent_stages_really_overlap(tmp_path, busybox_layout, jobs, expected):
    ctx = write_context(tmp_path / "ctx", MEET)
    args = {"BASE": f"oci:{busybox_layout}:latest", "PATIENCE": "300" if jobs > 1 else "2"}
    result, events = build(ctx, tmp_path / "out", tmp_path / "work", build_args=args, stage_jobs=jobs)
    root = unpack(tmp_path / "out", tmp_path / "unpacked")
    # sequential: the first stage waits in vain (0.2 s), the second finds the first's mark
    assert (root / "a").read_text() == f"{expected}\n"
    assert (root / "b").read_text() == "overlapped\n"


FAILING = """\
ARG BASE
FROM ${BASE} AS slow
RUN echo start && sleep 47 && echo never > /x
FROM ${BASE} AS broken
RUN echo before > /y
RUN echo about to fail && exit 3
FROM ${BASE}
COPY --from=slow /x /x
COPY --from=broken /y /y
"""


def test_a_failing_stage_stops_the_others_and_its_error_is_reported(tmp_path, busybox_layout):
    ctx = write_context(tmp_path / "ctx", FAILING)
    started = time.monotonic()
    with pytest.raises(BuildError) as info:
        build(ctx, tmp_path / "out", tmp_path / "work", stage_jobs=2,
              build_args={"BASE": f"oci:{busybox_layout}:latest"})
    took = time.monotonic() - started
    message = str(info.value)
    assert "Dockerfile:6" in message and "exited with code 3" in message, message
    assert "cancel" not in message and "stopped" not in message, message
    assert took < 40, f"the sleeping stage was not stopped ({took:.1f}s)"
    time.sleep(0.2)
    assert processes_with_cmdline("sleep 47") == []
    assert work_dirs(tmp_path / "work") == [] and mounts_under(tmp_path / "work") == []


def test_a_failing_stage_is_reported_the_same_with_one_job(tmp_path, busybox_layout):
    """Sequential order: the failing stage first, so the sleeping one never starts."""
    ctx = write_context(tmp_path / "ctx", FAILING.replace("sleep 47", "sleep 0"))
    messages = []
    for jobs in (1, 2):
        with pytest.raises(BuildError) as info:
            build(ctx, tmp_path / f"out{jobs}", tmp_path / f"work{jobs}", stage_jobs=jobs,
                  build_args={"BASE": f"oci:{busybox_layout}:latest"})
        messages.append(str(info.value))
        assert work_dirs(tmp_path / f"work{jobs}") == []
    assert messages[0] == messages[1]


@pytest.mark.parametrize("signum,expected", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_stages_run_in_parallel(tmp_path, busybox_layout, signum, expected):
    markers = [f"sleep {60 + signum}", f"sleep {80 + signum}"]   # command lines no other test runs
    ctx = write_context(tmp_path / "ctx", (
        f"FROM oci:{busybox_layout} AS a\nRUN {markers[0]}\n"
        f"FROM oci:{busybox_layout} AS b\nRUN {markers[1]}\n"
        f"FROM oci:{busybox_layout}\nCOPY --from=a / /a\nCOPY --from=b / /b\n"))
    work, log = tmp_path / "work", tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                                 "--work-dir", str(work), "--stage-jobs=2"], stdout=out,
                                stderr=subprocess.STDOUT, env=cli_env())
    try:
        deadline = time.monotonic() + 60
        while not all(processes_with_cmdline(m) for m in markers):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "both RUNs never ran at once:\n" + log.read_text()[-3000:]
            time.sleep(0.05)
        proc.send_signal(signum)
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert rc == expected, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    time.sleep(0.2)
    assert [processes_with_cmdline(m) for m in markers] == [[], []]
    assert mounts_under(work) == [] and work_dirs(work) == []
