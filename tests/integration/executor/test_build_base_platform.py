"""``--custom-platform`` on a base without that platform is an error naming the platforms the
base has, for an index and for a single-platform manifest alike; never a silent other-arch image."""

from __future__ import annotations

import argparse
import io
import os

import pytest

from mason.cli import build_cmd
from mason.errors import ImageError
from mason.executor.events import Warn
from tests.integration.executor.buildhelpers import build, config_of, write_context

pytestmark = pytest.mark.integration


def cli(tmp_path, argv):
    out = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=argv),
                         env={"CI": "true", "PATH": os.environ["PATH"], "TMPDIR": str(tmp_path)},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=out, stderr=out)
    return code, out.getvalue()


def test_index_without_the_platform(tmp_path, multiplatform_layout):
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{multiplatform_layout}:latest\nLABEL a=b\n")
    code, log = cli(tmp_path, ["--context", str(ctx), "--no-push", "--custom-platform", "linux/s390x",
                               "--work-dir", str(tmp_path / "w")])
    assert code == 1, log
    assert "no image for platform linux/s390x" in log
    assert "available: linux/amd64, linux/arm64/v8" in log
    assert "--custom-platform" in log          # the hint says what to pass


def test_single_platform_manifest_of_another_arch(tmp_path, multiplatform_layout):
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{multiplatform_layout}:amd64\nLABEL a=b\n")
    with pytest.raises(ImageError) as caught:
        build(ctx, tmp_path / "out", tmp_path / "w", platform="linux/arm64")
    message = str(caught.value)
    assert "single-platform image for linux/amd64, not linux/arm64/v8" in message
    assert not (tmp_path / "out").exists()
    code, log = cli(tmp_path, ["--context", str(ctx), "--no-push", "--custom-platform=linux/arm64",
                               "--oci-layout-path", str(tmp_path / "out2"), "--work-dir", str(tmp_path / "w2")])
    assert code == 1 and "its platforms: linux/amd64" in log, log
    assert not (tmp_path / "out2").exists()


def test_matching_platforms_build(tmp_path, multiplatform_layout):
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{multiplatform_layout}:arm64\nLABEL a=b\n")
    build(ctx, tmp_path / "out", tmp_path / "w", platform="linux/arm64/v8")
    assert config_of(tmp_path / "out")["architecture"] == "arm64"


def test_host_default_on_a_foreign_base_warns(tmp_path, multiplatform_layout):
    from mason.oci.platform import host_platform

    other = "arm64" if host_platform().architecture == "amd64" else "amd64"
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{multiplatform_layout}:{other}\nLABEL a=b\n")
    _, events = build(ctx, tmp_path / "out", tmp_path / "w")
    warnings = [e.message for e in events.of_type(Warn)]
    assert any(f"single-platform image for linux/{other}" in w for w in warnings), warnings
