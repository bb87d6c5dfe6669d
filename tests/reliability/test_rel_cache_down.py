"""A cache is an optimisation: a cache repository whose registry is down is a warning, and the
build goes on (every lookup a miss, every cache push a warning), with the image it would have
built without ``--cache``."""

from __future__ import annotations

import socket

import pytest

from tests.reliability.relhelpers import assert_no_traceback, mason, text, work_dirs

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]      # nothing listens there once the socket is closed


def test_a_cache_repository_that_is_down_is_a_warning(tmp_path, busybox_layout):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nRUN echo built > /x\n")
    proc = mason("build", "--context", str(ctx), "--no-push", "--cache=true",
                 "--cache-repo", f"127.0.0.1:{_closed_port()}/cache", "--oci-layout-path", str(tmp_path / "out"),
                 "--work-dir", str(tmp_path / "work"), "--reproducible")
    out = text(proc)
    assert_no_traceback(proc)
    assert proc.returncode == 0, out[-3000:]
    assert "is unavailable" in out and "building without the cache" in out, out[-3000:]
    assert work_dirs(tmp_path / "work") == []
    plain = mason("build", "--context", str(ctx), "--no-push", "--oci-layout-path", str(tmp_path / "out2"),
                  "--work-dir", str(tmp_path / "work"), "--reproducible")
    assert plain.returncode == 0, text(plain)[-2000:]
    digest = [line for line in out.splitlines() if "image: sha256:" in line][-1].split("image: ")[1].split()[0]
    assert digest in text(plain)


@pytest.mark.parametrize("preflight", [True, False], ids=["pre-flight finds it down", "a lookup finds it down"])
def test_a_cache_repository_found_down_is_not_asked_again_in_that_build(tmp_path, busybox_layout, preflight):
    """Each request to a dead registry costs the transport's retries (~15 s): after the first
    failure, no lookup or cache push of the same build tries it again (no per-push warnings)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nRUN echo 1 > /a\nRUN echo 2 > /b\nRUN echo 3 > /c\n")
    repo = f"127.0.0.1:{_closed_port()}/cache"
    proc = mason("build", "--context", str(ctx), "--no-push", "--cache=true", "--cache-repo", repo,
                 "--oci-layout-path", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work"), "--reproducible",
                 *([] if preflight else ["--skip-push-permission-check"]))
    out = text(proc)
    assert_no_traceback(proc)
    assert proc.returncode == 0, out[-3000:]
    if preflight:
        assert out.count("building without the cache") == 1, out[-3000:]
    else:
        assert out.count("no further cache lookups or pushes in this build") == 1, out[-3000:]
    assert "cache push of" not in out, out[-3000:]
    assert "cache: 0/3 hit" in out, out[-3000:]
    assert work_dirs(tmp_path / "work") == []
