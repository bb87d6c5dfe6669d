"""Options are parsed once, before any work: typed values out, user errors (never internal
errors) for bad input, ``SOURCE_DATE_EPOCH`` read in one place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mason.errors import NotSupportedError, UsageError
from mason.executor.options import BuildOptions
from mason.executor.settings import SnapshotMode, parse_settings
from mason.tarfs.compress import Compression


def options(tmp_path: Path, **kw) -> BuildOptions:
    return BuildOptions(context_dir=tmp_path, no_push=True, **kw)


def test_values_are_typed(tmp_path):
    s = parse_settings(options(tmp_path, snapshot_mode="walk", compression="zstd", stage_jobs=3,
                               platform="linux/arm64/v8"), {})
    assert s.snapshot_mode is SnapshotMode.WALK and s.compression is Compression.ZSTD
    assert s.stage_jobs == 3
    assert (s.platform.os, s.platform.architecture, s.platform.variant) == ("linux", "arm64", "v8")
    assert s.cache_repo is None and s.source_date_epoch is None


def test_source_date_epoch_comes_from_the_option_before_the_variable(tmp_path):
    assert parse_settings(options(tmp_path), {"SOURCE_DATE_EPOCH": "1700000000"}).source_date_epoch == 1700000000
    assert parse_settings(options(tmp_path, source_date_epoch=5), {"SOURCE_DATE_EPOCH": "abc"}).source_date_epoch == 5
    s = parse_settings(options(tmp_path, reproducible=True), {"SOURCE_DATE_EPOCH": "86400"})
    assert s.created() == "1970-01-02T00:00:00Z"
    assert s.layer_options(False).fixed_mtime == 86400


@pytest.mark.parametrize("cache", [False, True])
def test_a_malformed_source_date_epoch_is_a_usage_error_with_or_without_cache(tmp_path, cache):
    kw = dict(cache=True, cache_repo=f"oci:{tmp_path}/cache") if cache else {}
    with pytest.raises(UsageError) as err:
        parse_settings(options(tmp_path, **kw), {"SOURCE_DATE_EPOCH": "abc"})
    assert str(err.value) == "SOURCE_DATE_EPOCH='abc' is not a number" and err.value.hint


@pytest.mark.parametrize("kw, message", [
    (dict(snapshot_mode="fast"), "unknown snapshot mode 'fast'"),
    (dict(compression="lz4"), "unknown compression 'lz4'"),
    (dict(stage_jobs=0), "stage jobs must be at least 1"),
    (dict(cache_report=Path("r.json")), "--cache-report needs --cache=true"),
])
def test_bad_options_are_refused_up_front(tmp_path, kw, message):
    with pytest.raises(UsageError) as err:
        parse_settings(options(tmp_path, **kw), {})
    assert message in str(err.value)


def test_zstd_on_a_docker_media_base_is_refused_when_a_layer_is_written(tmp_path):
    s = parse_settings(options(tmp_path, compression="zstd"), {})
    assert s.layer_options(False).compression is Compression.ZSTD
    with pytest.raises(NotSupportedError):
        s.layer_options(True)


def test_the_cache_repository_is_resolved_once(tmp_path):
    s = parse_settings(BuildOptions(context_dir=tmp_path, destinations=("r.example:5000/team/app:1",), cache=True), {})
    assert s.cache_repo == "r.example:5000/team/app/cache"


def test_the_cli_reports_a_malformed_epoch_with_cache_as_a_usage_error(tmp_path):
    """``SOURCE_DATE_EPOCH=abc mason build --cache=true`` used to end in an internal error
    (exit 4, "this is a bug in mason"); it is the user's input, named as such, exit 2."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY Dockerfile /\n")
    env = dict(os.environ, SOURCE_DATE_EPOCH="abc")
    proc = subprocess.run([sys.executable, "-m", "mason", "build", "--context", str(tmp_path), "--no-push",
                           "--cache=true", f"--cache-repo=oci:{tmp_path}/cache", f"--work-dir={tmp_path}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "SOURCE_DATE_EPOCH='abc' is not a number" in proc.stderr
    assert "internal error" not in proc.stderr and "bug" not in proc.stderr
    assert not list(tmp_path.glob("mason-build-*"))    # refused before a work dir existed


def test_source_date_epoch_build_arg_is_read_as_buildkit_does(tmp_path):
    """``--build-arg SOURCE_DATE_EPOCH=…`` is how BuildKit's frontend is given it."""
    opts = options(tmp_path, build_args={"SOURCE_DATE_EPOCH": "1600000000"})
    assert parse_settings(opts, {"SOURCE_DATE_EPOCH": "5"}).source_date_epoch == 1600000000
    assert parse_settings(opts, {}).created() == "2020-09-13T12:26:40Z"
