"""Load: 4 builds at once in one process (threads) and 4 processes at once, all sharing one
``--cache-dir``. Every build succeeds, its digest equals the sequential ``--reproducible`` run's,
and the shared extracted-layer store ends up identical to one filled by a single build (no torn
or half-written entries, no temporaries left)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mason.executor.executor import run_build
from mason.executor.options import BuildOptions
from tests.reliability.relhelpers import cli_env, mounts_under, store_entries, tree_snapshot, work_dirs

pytestmark = pytest.mark.integration
N = 4


def _context(tmp_path: Path, base: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base}\n"
        "RUN mkdir -p /out && for i in 1 2 3 4 5; do echo line$i >> /out/f; done\n"
        "COPY app /app\n"
        "RUN rm -rf /data/a && ls / > /out/ls\n")
    (ctx / "app").mkdir(exist_ok=True)
    for i in range(20):
        (ctx / "app" / f"file{i}.txt").write_text(f"content {i}\n" * 50)
    return ctx


def _options(ctx: Path, out: Path, work: Path, cache: Path) -> BuildOptions:
    return BuildOptions(context_dir=ctx, no_push=True, oci_layout_path=out, work_root=work, cache_dir=cache,
                        reproducible=True)


def _store_tree(cache: Path) -> dict:
    snap = {}
    for entry in store_entries(cache):
        for rel, (mode, size, _mtime, _nlink) in tree_snapshot(entry).items():
            snap[f"{entry.name}/{rel}"] = (mode, size)
    return snap


def _no_temporaries(cache: Path) -> None:
    base = cache / "layers"
    left = [p for p in base.rglob(".*tmp-*")]
    assert left == [], left


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, whiteout_layout):
    """The reference: one build, alone, reproducible."""
    tmp = tmp_path_factory.mktemp("sequential")
    ctx = _context(tmp, whiteout_layout)
    result = run_build(_options(ctx, tmp / "out", tmp / "work", tmp / "cache"))
    return result.image_digest, _store_tree(tmp / "cache")


def test_four_builds_at_once_in_one_process(tmp_path, whiteout_layout, sequential):
    ctx = _context(tmp_path, whiteout_layout)
    cache, work = tmp_path / "cache", tmp_path / "work"
    with ThreadPoolExecutor(max_workers=N) as pool:
        futures = [pool.submit(run_build, _options(ctx, tmp_path / f"out{i}", work, cache)) for i in range(N)]
        digests = [f.result().image_digest for f in futures]
    assert digests == [sequential[0]] * N
    assert _store_tree(cache) == sequential[1]
    _no_temporaries(cache)
    assert work_dirs(work) == [] and mounts_under(work) == []
    for i in range(N):  # each layout is complete and readable by an independent tool
        subprocess.run(["skopeo", "inspect", "--raw", f"oci:{tmp_path / f'out{i}'}:latest"], check=True,
                       capture_output=True)


def test_four_processes_at_once_sharing_the_cache_dir(tmp_path, whiteout_layout, sequential):
    ctx = _context(tmp_path, whiteout_layout)
    cache, work = tmp_path / "cache", tmp_path / "work"
    cache.mkdir()
    procs = []
    for i in range(N):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push", "--reproducible",
             "--oci-layout-path", str(tmp_path / f"out{i}"), "--digest-file", str(tmp_path / f"digest{i}"),
             "--cache-dir", str(cache), "--work-dir", str(work)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=cli_env()))
    outputs = [p.communicate(timeout=240)[0].decode(errors="replace") for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    digests = [(tmp_path / f"digest{i}").read_text().strip() for i in range(N)]
    assert digests == [sequential[0]] * N
    for i in range(N):
        index = json.loads((tmp_path / f"out{i}" / "index.json").read_text())
        assert index["manifests"][0]["digest"] == sequential[0]
    assert _store_tree(cache) == sequential[1]
    _no_temporaries(cache)
    assert work_dirs(work) == [] and mounts_under(work) == []


def test_four_processes_sharing_one_registry_cache_repo(tmp_path, whiteout_layout, sequential, registry_plain):
    """--cache=true with one cache repo: 4 cold builds race to fill it, then 4 warm builds read it;
    every digest equals the lone reproducible build's (the cache never changes the result)."""
    ctx = _context(tmp_path, whiteout_layout)
    cache, work = tmp_path / "cache", tmp_path / "work"
    cache.mkdir()
    repo = f"{registry_plain.host}/relload/cache"

    def wave(label: str) -> list[str]:
        procs = []
        for i in range(N):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push", "--reproducible",
                 "--cache=true", "--cache-repo", repo, "--insecure-registry", registry_plain.host,
                 "--oci-layout-path", str(tmp_path / f"{label}{i}"), "--digest-file", str(tmp_path / f"{label}d{i}"),
                 "--cache-dir", str(cache), "--work-dir", str(work)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=cli_env()))
        outputs = [p.communicate(timeout=240)[0].decode(errors="replace") for p in procs]
        for p, out in zip(procs, outputs):
            assert p.returncode == 0, out[-3000:]
        return [(tmp_path / f"{label}d{i}").read_text().strip() for i in range(N)]

    assert wave("cold") == [sequential[0]] * N
    import urllib.request

    with urllib.request.urlopen(f"http://{registry_plain.host}/v2/relload/cache/tags/list", timeout=10) as r:
        assert json.loads(r.read())["tags"], "the cold builds pushed nothing to the cache repo"
    assert wave("warm") == [sequential[0]] * N
    _no_temporaries(cache)
    assert work_dirs(work) == [] and mounts_under(work) == []
