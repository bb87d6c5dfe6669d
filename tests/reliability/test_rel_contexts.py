"""Build contexts and work dirs under hostile or scarce conditions: symlinks pointing out of the
context, ``.dockerignore``d secrets, a huge context (streamed, bounded memory), and a work dir
on a full filesystem (a small tmpfs)."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mason.executor.executor import run_build
from mason.executor.options import BuildOptions
from mason.errors import MasonError
from tests.reliability.relhelpers import assert_no_traceback, cli_env, mounts_under, text, work_dirs

pytestmark = pytest.mark.integration
HOST_SECRET = b"HOST-SECRET-3f9a-never-in-a-layer"


def _layers_bytes(layout: Path) -> bytes:
    """Every layer of the layout's image, uncompressed, concatenated (+ config)."""
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    out = [(layout / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes()]
    for layer in manifest["layers"]:
        data = (layout / "blobs/sha256" / layer["digest"].split(":")[1]).read_bytes()
        out.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return b"\n".join(out)


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret").write_bytes(HOST_SECRET)
    return d


def _options(tmp_path, ctx, **kw):
    kw.setdefault("oci_layout_path", tmp_path / "out")
    return BuildOptions(context_dir=ctx, no_push=True, work_root=tmp_path / "work", **kw)


def test_symlinks_out_of_the_context_are_not_followed(tmp_path, busybox_layout, outside):
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    os.symlink(outside / "secret", ctx / "app" / "abs-link")
    os.symlink("../../outside/secret", ctx / "app" / "rel-link")
    os.symlink(str(outside), ctx / "app" / "dir-link")
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY app /app\n")
    run_build(_options(tmp_path, ctx))
    assert HOST_SECRET not in _layers_bytes(tmp_path / "out")


@pytest.mark.parametrize("source", ["app/abs-link", "app/rel-link", "app/dir-link/secret", "app/dir-link"])
def test_naming_a_symlink_out_of_the_context_never_copies_the_outside(tmp_path, busybox_layout, outside, source):
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    os.symlink(outside / "secret", ctx / "app" / "abs-link")
    os.symlink("../../outside/secret", ctx / "app" / "rel-link")
    os.symlink(str(outside), ctx / "app" / "dir-link")
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY {source} /x\n")
    try:
        run_build(_options(tmp_path, ctx))
    except MasonError as exc:   # refusing (not found in the context) is fine
        assert HOST_SECRET.decode() not in str(exc)
        return
    assert HOST_SECRET not in _layers_bytes(tmp_path / "out")


def test_dockerignored_secrets_never_enter_a_layer(tmp_path, busybox_layout):
    ctx = tmp_path / "ctx"
    (ctx / "keys").mkdir(parents=True)
    (ctx / "keys" / "id.pem").write_bytes(HOST_SECRET + b"-pem")
    (ctx / ".env").write_bytes(HOST_SECRET + b"-env")
    (ctx / "app.py").write_text("print('hi')\n")
    (ctx / ".dockerignore").write_text("**/*.pem\n.env\n")
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY . /src\nADD . /add\n")
    run_build(_options(tmp_path, ctx))
    data = _layers_bytes(tmp_path / "out")
    assert b"print('hi')" in data
    assert HOST_SECRET not in data
    # naming an ignored file explicitly is an error, as with BuildKit
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY .env /x\n")
    with pytest.raises(MasonError, match=r"\.env"):
        run_build(_options(tmp_path, ctx, oci_layout_path=tmp_path / "out2"))


def _peak_kb(stderr: str) -> int:
    return int(re.findall(r"PEAK (\d+)", stderr)[-1])


_MEASURED = ("import re, runpy, sys; sys.argv = ['mason'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('mason', run_name='__main__')\n"
             "finally:\n    print('PEAK', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1),"
             " file=sys.stderr)")


def test_huge_context_streams(tmp_path, busybox_layout):
    """A 512 MB file in the context is copied into a layer with peak memory far below its size."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with open(ctx / "big.bin", "wb") as f:
        f.truncate(512 << 20)
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY big.bin /big.bin\n")
    proc = subprocess.run([sys.executable, "-c", _MEASURED, "build", "--context", str(ctx), "--no-push",
                           "--oci-layout-path", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")],
                          capture_output=True, env=cli_env(), timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    peak = _peak_kb(err)
    assert peak < 150_000, f"peak RSS {peak} kB copying a 512 MB file"


@pytest.fixture
def small_tmpfs(tmp_path):
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)
        assert mounts_under(tmp_path) == []


@pytest.mark.parametrize("step", ["COPY big.bin /big.bin", "RUN head -c 40000000 /dev/zero > /big"])
def test_disk_full_in_the_work_dir(tmp_path, busybox_layout, small_tmpfs, step):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "big.bin").write_bytes(os.urandom(40 << 20))
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\n{step}\n")
    proc = subprocess.run([sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push",
                           "--oci-layout-path", str(tmp_path / "out"), "--work-dir", str(small_tmpfs)],
                          capture_output=True, env=cli_env(), timeout=180)
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    assert_no_traceback(proc)
    assert "No space left on device" in out or "ENOSPC" in out or "exit code 1" in out or "exited with" in out, \
        out[-2000:]
    assert work_dirs(small_tmpfs) == []
    assert mounts_under(small_tmpfs) == []
    if step.startswith("COPY"):   # mason's own write failed: named as such, not as a bug
        assert "No space left on device" in out and str(small_tmpfs) in out, out[-2000:]
