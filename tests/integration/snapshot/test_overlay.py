"""Overlay roots: mounted, always unmounted, many layers, stale-mount cleanup."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mason.sandbox import linux
from mason.snapshot.overlay import OverlayRoot, cleanup_stale
from mason.snapshot.upperdiff import diff_upper


def _mounted_under(path: Path) -> list[str]:
    return [p for p in linux.mount_points() if p.startswith(str(path))]


def test_mount_write_and_always_unmount(tmp_path):
    lower = tmp_path / "l0"
    lower.mkdir()
    (lower / "a").write_text("a")
    with pytest.raises(RuntimeError):
        with OverlayRoot([lower], tmp_path / "s") as ov:
            assert _mounted_under(tmp_path) == [str(ov.merged)]
            assert (ov.merged / "a").read_text() == "a"
            (ov.merged / "b").write_text("b")
            raise RuntimeError("step failed")
    assert _mounted_under(tmp_path) == []
    assert sorted(os.listdir(tmp_path / "s")) == ["upper"]
    assert (tmp_path / "s/upper/b").read_text() == "b"
    assert (lower / "a").read_text() == "a" and not (lower / "b").exists()


def test_scratch_base_has_empty_lower(tmp_path):
    with OverlayRoot([], tmp_path / "s") as ov:
        assert os.listdir(ov.merged) == []
        (ov.merged / "x").write_text("x")
    assert diff_upper(tmp_path / "s/upper", []).paths == ("x",)


def test_many_layers_fit_despite_option_limit(tmp_path):
    lowers = []
    for i in range(180):
        d = tmp_path / ("a-rather-long-directory-name-for-a-layer-%04d" % i)
        d.mkdir()
        (d / f"f{i}").write_text(str(i))
        lowers.append(d)
    with OverlayRoot(lowers, tmp_path / "s") as ov:
        assert len(os.listdir(ov.merged)) == 180
        assert (ov.merged / "f179").read_text() == "179"
    assert _mounted_under(tmp_path) == []


def test_cleanup_stale_unmounts_overlays_of_dead_processes(tmp_path):
    lower = tmp_path / "l0"
    lower.mkdir()
    src = str(Path(__file__).resolve().parents[3] / "src")
    code = (f"import sys, time; sys.path.insert(0, {src!r});"
            "from mason.snapshot.overlay import OverlayRoot;"
            f"ov = OverlayRoot([{str(lower)!r}], {str(tmp_path / 'work/s1')!r}).__enter__();"
            "print('up', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "up"
    with OverlayRoot([lower], tmp_path / "work/live") as live:
        assert len(_mounted_under(tmp_path)) == 2
        assert cleanup_stale(tmp_path / "work") == []  # owner still alive: kept
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert cleanup_stale(tmp_path / "work") == [tmp_path / "work/s1"]
        assert _mounted_under(tmp_path) == [str(live.merged)]  # our own live mount is untouched
    assert not (tmp_path / "work/s1").exists()
    assert _mounted_under(tmp_path) == []
