"""SIGTERM/SIGINT to ``python -m mason build`` during a RUN, an extraction and a push; SIGKILL
and the next run's cleanup.

After a handled signal: the exit code is 128+signal (130 SIGINT, 143 SIGTERM, docs/cli.md), no
process of the RUN is left, nothing is mounted under the work root, the work dir is gone, and
the extracted-layer store has no half-extracted entry published.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.relhelpers import (cli_env, gz_layer, member, mounts_under, processes_with_cmdline,
                                          store_entries, tag_exists, work_dirs, write_layout)
from tests.support.images import push_layout

pytestmark = pytest.mark.integration
SIGNALS = [(signal.SIGTERM, 143), (signal.SIGINT, 130)]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "mason", "build", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=cli_env())


def _wait_for(predicate, proc: subprocess.Popen, log: Path, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"mason exited ({proc.returncode}) before the signal point:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"signal point not reached in {timeout}s:\n{log.read_text()[-3000:]}")


def _finish(proc: subprocess.Popen, signum: int, expected: int, log: Path, *, within: float = 20.0) -> str:
    proc.send_signal(signum)
    try:
        rc = proc.wait(within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"mason did not stop within {within}s of {signal.Signals(signum).name}:\n"
                    f"{log.read_text()[-3000:]}")
    output = log.read_text()
    assert rc == expected, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    return output


def _assert_clean(work: Path) -> None:
    assert mounts_under(work) == []
    assert work_dirs(work) == []


@pytest.mark.parametrize("signum,expected", SIGNALS)
def test_signal_during_run(tmp_path, busybox_layout, signum, expected):
    marker = f"sleep {30 + signum}"  # a command line no other test runs
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nRUN {marker}; echo never\n")
    work, log = tmp_path / "work", tmp_path / "log"
    proc = _start(["--context", str(ctx), "--no-push", "--work-dir", str(work)], log)
    try:
        _wait_for(lambda: processes_with_cmdline(marker), proc, log)
        output = _finish(proc, signum, expected, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "terminated" in output or "interrupted" in output
    time.sleep(0.2)
    assert processes_with_cmdline(marker) == [], "the RUN's process outlived the build"
    _assert_clean(work)


@pytest.fixture(scope="module")
def big_base(tmp_path_factory, busybox_layout) -> Path:
    """busybox plus a layer of 30,000 small files: extraction takes seconds."""
    import shutil

    layout = tmp_path_factory.mktemp("bigbase") / "layout"
    shutil.copytree(busybox_layout, layout)
    members = [member("many", b"5", mode=0o755)]
    members += [member(f"many/d{i // 1000:03d}", b"5", mode=0o755) for i in range(0, 30_000, 1000)]
    members += [member(f"many/d{i // 1000:03d}/f{i}", data=b"x" * 512) for i in range(30_000)]
    blob, tar, media = gz_layer(members)
    import json

    from tests.reliability.relhelpers import _blob
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_bytes())
    config = json.loads((layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())
    import hashlib

    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    manifest["config"] = {**manifest["config"], **_blob(layout, json.dumps(config).encode())}
    manifest["layers"].append({"mediaType": media, **_blob(layout, blob)})
    data = json.dumps(manifest).encode()
    index["manifests"][0] = {**index["manifests"][0], **_blob(layout, data)}
    (layout / "index.json").write_text(json.dumps(index))
    return layout


def _extracting(cache: Path):
    base = cache / "layers" / "sha256"
    if not base.exists():
        return None
    tmps = [p for p in base.iterdir() if ".tmp-" in p.name]
    # wait until the big layer is well under way (thousands of files written): an extracted
    # directory with its first subdirectories, or an EROFS image past its first 8 MB
    for t in tmps:
        try:
            if t.is_file() and t.stat().st_size > 8 << 20:
                return t
        except FileNotFoundError:
            continue
        many = t / "many"
        if many.is_dir() and len(list(many.iterdir())) > 5:
            return t
    return None


@pytest.mark.parametrize("signum,expected", SIGNALS)
def test_signal_during_extraction(tmp_path, big_base, signum, expected):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{big_base}\nRUN echo hi\n")
    work, cache, log = tmp_path / "work", tmp_path / "cache", tmp_path / "log"
    cache.mkdir()
    proc = _start(["--context", str(ctx), "--no-push", "--work-dir", str(work), "--cache-dir", str(cache)], log)
    try:
        _wait_for(lambda: _extracting(cache), proc, log)
        _finish(proc, signum, expected, log)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_clean(work)
    # the interrupted extraction is neither published nor left half-written
    published = {p.name.removesuffix(".erofs") for p in store_entries(cache)}
    leftovers = [p for p in (cache / "layers" / "sha256").iterdir() if ".tmp-" in p.name]
    assert leftovers == []
    big_layer = _last_diff_id(big_base).split(":")[1]
    assert big_layer not in published, "a cut extraction was published"
    for entry in published:  # a published entry is complete (the big one must not be, it was cut)
        assert not (cache / "layers" / "sha256" / entry / "many").exists(), "a cut extraction was published"


def _last_diff_id(layout: Path) -> str:
    import json

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes())
    return config["rootfs"]["diff_ids"][-1]


@pytest.fixture(scope="module")
def push_base(registry_plain, busybox_layout):
    push_layout(busybox_layout, f"{registry_plain.host}/relsig/base:latest")
    return f"{registry_plain.host}/relsig/base:latest"


@pytest.mark.parametrize("signum,expected", SIGNALS)
def test_signal_during_push(tmp_path, fault_proxy, registry_plain, push_base, signum, expected):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {fault_proxy.host}/relsig/base\nRUN head -c 100000 /dev/urandom > /r\n")
    repo = f"relsig/out{signum}"
    work, log = tmp_path / "work", tmp_path / "log"
    # every blob upload hangs for 30 s: the signal arrives while the push waits on it
    fault_proxy.fault_next(100, "delay", method="PUT", path_contains="/blobs/uploads/", seconds=30)
    proc = _start(["--context", str(ctx), "--destination", f"{fault_proxy.host}/{repo}:v1",
                   "--insecure-registry", fault_proxy.host, "--work-dir", str(work)], log)
    try:
        _wait_for(lambda: [f for f in fault_proxy.fired if f[0] == "delay"], proc, log)
        _finish(proc, signum, expected, log, within=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_clean(work)
    assert not tag_exists(registry_plain.host, repo, "v1")


def test_sigkill_leaves_a_stale_work_dir_that_the_next_run_removes(tmp_path, busybox_layout):
    marker = "sleep 47"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nRUN {marker}\n")
    work, log = tmp_path / "work", tmp_path / "log"
    proc = _start(["--context", str(ctx), "--no-push", "--work-dir", str(work)], log)
    try:
        _wait_for(lambda: processes_with_cmdline(marker), proc, log)
        stale_mounts = mounts_under(work)
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stale = work_dirs(work)
    assert len(stale) == 1, "SIGKILL cannot be handled: the work dir must still be there"
    assert stale_mounts, "the RUN's overlay should have been mounted while it ran"
    deadline = time.monotonic() + 10   # the sandbox's helper dies with its parent (PDEATHSIG)
    while processes_with_cmdline(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftover = processes_with_cmdline(marker)
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert leftover == [], "the RUN's process outlived a SIGKILLed mason"
    # the next build under the same work root cleans up (mounts first, then the directory)
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nLABEL next=run\n")
    done = subprocess.run([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                           "--work-dir", str(work)], capture_output=True, env=cli_env(), timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    _assert_clean(work)
