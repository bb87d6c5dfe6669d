"""mason warm + a registry-free pinned FROM; the --cache-report; an oci: cache repository."""

from __future__ import annotations

import argparse
import json

from mason.executor.events import CollectingReporter
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions
from mason.cli import warm_cmd
from tests.integration.executor.buildhelpers import unpack, write_context
from tests.integration.cache.cachehelpers import cache_build, cache_states, extracted
from tests.support.images import push_layout


def _warm(argv):
    parser = argparse.ArgumentParser()
    warm_cmd.configure(parser)
    return warm_cmd.run(parser.parse_args(argv))


def test_cache_warmed_base_pinned_by_digest_needs_no_registry(tmp_path, registry_factory, busybox_layout, capsys):
    registry = registry_factory("plain")
    push_layout(busybox_layout, f"{registry.host}/warm/base:1")
    cache_dir = tmp_path / "cache"
    # Warm by tag from a Dockerfile (with a build-arg in FROM) and learn the digest it stored.
    dockerfile = tmp_path / "Dockerfile.warm"
    dockerfile.write_text("ARG BASE\nFROM ${BASE}\nRUN true\n")
    assert _warm(["-d", str(dockerfile), "--build-arg", f"BASE={registry.host}/warm/base:1", "-c", str(cache_dir),
                  "--insecure-pull"]) == 0
    digest = capsys.readouterr().out.split("stored ")[1].split()[0]
    pinned = f"{registry.host}/warm/base@{digest}"
    assert _warm(["-i", pinned, "-c", str(cache_dir), "--insecure-pull"]) == 0
    assert "already in" in capsys.readouterr().out
    registry.stop()     # from here on, no registry at all
    ctx = write_context(tmp_path / "ctx", f"FROM {pinned}\nRUN echo offline > /offline\n")
    out = tmp_path / "out"
    result = run_build(BuildOptions(context_dir=ctx, no_push=True, oci_layout_path=out, work_root=tmp_path / "w",
                                    cache_dir=cache_dir), reporter=CollectingReporter(), env={})
    assert result.image_digest
    root = unpack(out, tmp_path / "unpacked")
    assert (root / "offline").read_text() == "offline\n"


def test_cache_report_explains_which_input_changed(tmp_path, registry_plain, busybox_layout):
    base = f"{registry_plain.host}/report/base:1"
    push_layout(busybox_layout, base)
    ctx = write_context(tmp_path / "ctx", f"FROM {base}\nCOPY a.txt /a.txt\nENV X=1\nRUN echo $X > /x\n",
                        {"a.txt": "a\n"})
    dest = f"{registry_plain.host}/report/app:1"
    report = tmp_path / "report.json"
    cache_build(ctx, tmp_path, dest, cache_report=report, cache_copy_layers=True)
    first = json.loads(report.read_text())
    assert first["previous_build_found"] is False and first["misses"] == 2
    assert [s["cache"] for s in first["steps"]] == ["miss", "none", "miss"]
    run_inputs = first["steps"][2]["inputs"]
    assert {"argv", "env", "user", "workdir", "mounts", "network", "writer"} <= set(run_inputs)
    assert all(v.startswith("sha256:") for v in run_inputs.values())
    (ctx / "Dockerfile").write_text(f"FROM {base}\nCOPY a.txt /a.txt\nENV X=2\nRUN echo $X > /x\n")
    cache_build(ctx, tmp_path, dest, cache_report=report, cache_copy_layers=True)
    second = json.loads(report.read_text())
    assert second["previous_build_found"] is True
    copy, _, run = second["steps"]
    assert copy["cache"] == "hit" and run["cache"] == "miss"
    assert run["differs"] == ["env"] and "env" in run["reason"]
    (ctx / "a.txt").write_text("changed\n")
    cache_build(ctx, tmp_path, dest, cache_report=report, cache_copy_layers=True)
    third = json.loads(report.read_text())
    copy, _, run = third["steps"]
    assert copy["differs"] == ["sources"]
    assert run["differs"] == ["parent"] and "earlier step" in run["reason"]


def test_cache_oci_layout_cache_repo(tmp_path, busybox_layout):
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{busybox_layout}:latest\nRUN echo a > /a\nWORKDIR /w\n"
                                          "RUN true\n")
    repo = f"oci:{tmp_path / 'cache-layout'}"
    first, ev1, _, _, _ = cache_build(ctx, tmp_path, None, cache_repo=repo, oci_layout_path=tmp_path / "o1",
                                      reproducible=True)
    assert cache_states(ev1) == ["miss", "miss", "miss"]
    index = json.loads((tmp_path / "cache-layout" / "index.json").read_text())
    tags = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    assert {s.cache_key.split(":")[1] for s in first.steps} <= tags
    second, ev2, _, _, cache_dir = cache_build(ctx, tmp_path, None, cache_repo=repo,
                                               oci_layout_path=tmp_path / "o2", reproducible=True)
    assert cache_states(ev2) == ["hit", "hit", "hit"]
    assert second.image_digest == first.image_digest
    assert extracted(cache_dir) == []
    # An expired entry is a miss.
    _, ev3, _, _, _ = cache_build(ctx, tmp_path, None, cache_repo=repo, oci_layout_path=tmp_path / "o3",
                                  cache_ttl_seconds=1e-9)
    assert cache_states(ev3) == ["miss", "miss", "miss"]
