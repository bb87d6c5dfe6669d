"""SIGTERM while a transfer crawls: a base-image blob download throttled to last a minute
(tests/support/faultproxy.py ``throttle``) and a token request that hangs.

A cancelled CI job gets about 30 s between SIGTERM and SIGKILL, so mason must stop within
seconds in every phase, not when the slow transfer finishes. The bound asserted (20 s) is
generous against a loaded machine yet a third of the injected transfer time (60 s): a build
that waited for the download fails it. After the signal nothing is left: no work dir, no
partial blob or extraction in the cache dir, no process of mason's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.relhelpers import _blob, cli_env, gz_layer, member, mounts_under, work_dirs
from tests.support.images import push_layout

pytestmark = pytest.mark.integration
TRANSFER_SECONDS = 60.0
STOP_WITHIN = 20.0


@pytest.fixture(scope="module")
def slow_base(registry_plain, busybox_layout, tmp_path_factory):
    """busybox plus two layers of random bytes: the layers download in parallel worker threads,
    as a real base image's do."""
    layout = tmp_path_factory.mktemp("slowbase") / "layout"
    shutil.copytree(busybox_layout, layout)
    for name in ("noise-a", "noise-b"):
        append_layer(layout, [member(name, data=os.urandom(400_000))])
    push_layout(str(layout), f"{registry_plain.host}/relsigdl/base:latest")
    return "relsigdl/base:latest"


def append_layer(layout: Path, members) -> None:
    blob, tar, media = gz_layer(members)
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    manifest["config"] = {**manifest["config"], **_blob(layout, json.dumps(config).encode())}
    manifest["layers"].append({"mediaType": media, **_blob(layout, blob)})
    index["manifests"][0] = {**index["manifests"][0], **_blob(layout, json.dumps(manifest).encode())}
    (layout / "index.json").write_text(json.dumps(index))


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        # PYTHONFAULTHANDLER: a build that does not stop is sent SIGABRT, its threads' stacks are the log
        return subprocess.Popen([sys.executable, "-m", "mason", "build", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=cli_env(PYTHONFAULTHANDLER="1"))


def _children_of(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _leftovers(cache: Path) -> list[Path]:
    """Anything in the cache dir that is not a complete, published entry: temporaries (dot or
    ``.tmp-`` names) and partial downloads."""
    if not cache.exists():
        return []
    found = []
    for p in cache.rglob("*"):
        if p.name.startswith(".") and p.name.endswith(".lock") and p.is_file() and p.stat().st_size == 0:
            continue   # the store's per-entry flock files (empty) are meant to stay
        if p.name.startswith(".") or ".tmp-" in p.name or p.name.endswith((".partial", ".part", ".download")):
            found.append(p)
    return sorted(found)


def _wait_fired(proxy, kind: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if [f for f in proxy.fired if f[0] == kind]:
            return
        if proc.poll() is not None:
            pytest.fail(f"mason exited ({proc.returncode}) before the {kind}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"the {kind} never fired:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen, signum: int, log: Path, what: str) -> tuple[int, float]:
    """Send ``signum``; (exit status, seconds it took) or the test fails after ``STOP_WITHIN``
    (a SIGABRT first, so the faulthandler writes every thread's stack into the log)."""
    started = time.monotonic()
    proc.send_signal(signum)
    try:
        rc = proc.wait(STOP_WITHIN)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait()
        pytest.fail(f"{what} did not stop within {STOP_WITHIN}s of {signal.Signals(signum).name} during a "
                    f"{TRANSFER_SECONDS:.0f}s download:\n{log.read_text()[-3000:]}")
    return rc, time.monotonic() - started


@pytest.mark.parametrize("signum,expected", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_a_slow_base_download(tmp_path, fault_proxy, slow_base, signum, expected):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {fault_proxy.host}/{slow_base}\nRUN echo never\n")
    work, cache, log = tmp_path / "work", tmp_path / "cache", tmp_path / "log"
    cache.mkdir()
    fault_proxy.fault_next(100, "throttle", method="GET", path_contains="/blobs/sha256:",
                           seconds=TRANSFER_SECONDS)
    proc = _start(["--context", str(ctx), "--no-push", "--work-dir", str(work), "--cache-dir", str(cache),
                   "--insecure-registry", fault_proxy.host], log)
    try:
        _wait_fired(fault_proxy, "throttle", proc, log)
        time.sleep(1.0)   # well into the body
        helpers = _children_of(proc.pid)
        rc, took = _stop(proc, signum, log, "mason")
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert rc == expected, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    print(f"stopped {took:.2f}s after {signal.Signals(signum).name}")
    assert took < STOP_WITHIN
    assert mounts_under(work) == [] and work_dirs(work) == []
    assert _leftovers(cache) == []
    for pid in helpers:   # mason's own children (none expected during a download) are gone too
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_sigterm_during_a_slow_base_download_in_a_bake(tmp_path, fault_proxy, slow_base):
    """``mason bake`` builds its images on worker threads: the signal must reach their transfers too."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(f"FROM {fault_proxy.host}/{slow_base}\nRUN echo never\n")
    (tmp_path / "mason.bake.yml").write_text("version: 1\nimages:\n  app:\n    context: app\n    no_push: true\n")
    work, log = tmp_path / "work", tmp_path / "log"
    fault_proxy.fault_next(100, "throttle", method="GET", path_contains="/blobs/sha256:",
                           seconds=TRANSFER_SECONDS)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mason", "bake", "--work-dir", str(work),
                                 "--insecure-registry", fault_proxy.host], cwd=tmp_path, stdout=out,
                                stderr=subprocess.STDOUT, env=cli_env(PYTHONFAULTHANDLER="1"))
    try:
        _wait_fired(fault_proxy, "throttle", proc, log)
        time.sleep(1.0)
        rc, _ = _stop(proc, signal.SIGTERM, log, "mason bake")
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert rc != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert mounts_under(work) == [] and work_dirs(work) == []
