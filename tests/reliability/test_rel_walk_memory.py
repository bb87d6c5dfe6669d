"""Peak memory of a build on a 300 000-entry base in chroot + walk mode, as a CI container runs
it (the unprivileged harness: capabilities cut, seccomp denying mount/unshare, so mason picks
chroot isolation and the stat walker). Bound: 200 MB for the whole build process (VmHWM),
with every step walking the 300 000-entry root before and after (a COPY and a RUN)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
from pathlib import Path

import pytest

from tests.reliability.relhelpers import OCI_LAYER_GZ, write_layout
from tests.support.busyroot import make_busybox_root
from tests.support.unpriv import SRC, run_unprivileged

pytestmark = pytest.mark.integration

ENTRIES = 300_000
_MEASURED = ("import re, runpy, sys; sys.argv = ['mason'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('mason', run_name='__main__')\n"
             "finally:\n    print('PEAK', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1),"
             " file=sys.stderr)")


def _layer(path: Path, add) -> tuple[bytes, str, str]:
    """A gzip layer written by ``add(tarfile)``; returns (blob, diff_id, media type)."""
    raw = path.with_suffix(".tar")
    with tarfile.open(raw, "w", format=tarfile.GNU_FORMAT) as tf:
        add(tf)
    data = raw.read_bytes()
    raw.unlink()
    return gzip.compress(data, compresslevel=1, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest(), OCI_LAYER_GZ


def _many(tf: tarfile.TarFile) -> None:
    per_dir = 1_000
    for d in range(ENTRIES // per_dir):
        info = tarfile.TarInfo(f"data/d{d:04d}")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_600_000_000
        tf.addfile(info)
        for f in range(per_dir - 1):
            info = tarfile.TarInfo(f"data/d{d:04d}/f{f:04d}")
            info.mode, info.mtime, info.size = 0o644, 1_600_000_000, 1
            tf.addfile(info, io.BytesIO(b"x"))


@pytest.mark.timeout(1800)   # 300 000 files extracted and walked four times: ~9 min on a loaded 2-core machine
def test_a_300k_entry_root_builds_under_200_mb_in_chroot_walk_mode(tmp_path):
    busy = make_busybox_root(tmp_path / "busybox")
    base = _layer(tmp_path / "busybox-layer", lambda tf: tf.add(busy, arcname=".", recursive=True))
    many = _layer(tmp_path / "many-layer", _many)
    layout = write_layout(tmp_path / "layout", [base, many])
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("f\n")
    (ctx / "Dockerfile").write_text(f"FROM oci:{layout}:latest\nCOPY f /f\nRUN touch /x && rm /data/d0000/f0000\n")
    env = dict(os.environ, PYTHONPATH=SRC)
    res = run_unprivileged([sys.executable, "-c", _MEASURED, "build", "--context", str(ctx), "--no-push",
                            "--oci-layout-path", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work"),
                            "--max-layer-entries", str(ENTRIES + 10_000)],
                           env=env, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "isolation: chroot" in res.stderr and "snapshots: walk" in res.stderr, res.stderr[-3000:]
    peak_kb = int(re.findall(r"PEAK (\d+)", res.stderr)[-1])
    print(f"peak RSS of a {ENTRIES}-entry chroot + walk build: {peak_kb / 1024:.0f} MB")
    assert peak_kb < 200 * 1024, peak_kb
