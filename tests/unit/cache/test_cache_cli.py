"""The cache flags on the command line: --cache-report, mason warm's flags, the default repo."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mason.executor.settings import default_cache_repo
from mason.executor.options import BuildOptions
from mason.cli import warm_cmd
from mason.cli.build_mapping import build_options, open_context
from mason.cli.kaniko_flags import BY_NAME, IMPLEMENTED, parse_argv
from mason.errors import UsageError


def _mapped(argv, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    parsed = parse_argv(["-c", str(tmp_path), *argv])
    with open_context(parsed, cwd=tmp_path, env={}) as context_dir:
        return build_options(parsed, context_dir, env={}, cwd=tmp_path).options


def test_cache_report_flag_maps_and_needs_cache(tmp_path):
    options = _mapped(["-d", "r.example/app:1", "--cache", "--cache-report=out/report.json"], tmp_path)
    assert options.cache and options.cache_report == tmp_path / "out" / "report.json"
    with pytest.raises(UsageError, match="--cache-report needs --cache=true"):
        _mapped(["-d", "r.example/app:1", "--cache-report=r.json"], tmp_path)


def test_cache_flags_are_implemented():
    for name in ("cache", "cache-repo", "cache-dir", "cache-ttl", "cache-copy-layers", "cache-run-layers",
                 "no-push-cache", "cache-report"):
        assert BY_NAME[name].status == IMPLEMENTED, name
    assert "compressed blob" in BY_NAME["compressed-caching"].effect


def test_cache_default_repo_is_first_destination_slash_cache():
    opts = BuildOptions(context_dir=Path("."), destinations=("r.example:5000/team/app:1", "other/x:2"), cache=True)
    assert default_cache_repo(opts) == "r.example:5000/team/app/cache"
    opts = BuildOptions(context_dir=Path("."), no_push=True, cache=True, cache_repo="oci:/tmp/c")
    assert default_cache_repo(opts) == "oci:/tmp/c"
    with pytest.raises(UsageError, match="--cache-repo"):
        default_cache_repo(BuildOptions(context_dir=Path("."), no_push=True, cache=True))


def test_cache_warm_flags_are_kanikos(tmp_path):
    parser = argparse.ArgumentParser()
    warm_cmd.configure(parser)
    args = parser.parse_args(["-i", "a/b:1", "--image", "c/d@sha256:" + "0" * 64, "-c", str(tmp_path), "-f",
                              "--cache-ttl", "1h", "-d", "Dockerfile", "--build-arg", "X=1", "--insecure-pull"])
    assert args.image == ["a/b:1", "c/d@sha256:" + "0" * 64] and args.force and args.cache_dir == str(tmp_path)
    with pytest.raises(UsageError, match="nothing to warm"):
        warm_cmd.run(parser.parse_args(["-c", str(tmp_path)]))
    with pytest.raises(UsageError, match="only with --dockerfile"):
        warm_cmd.run(parser.parse_args(["-c", str(tmp_path), "-i", "a/b:1", "--build-arg", "X=1"]))
