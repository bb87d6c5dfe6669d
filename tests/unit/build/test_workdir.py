import os
import subprocess
import sys

from mason.build.workdir import PREFIX, WorkDir, mounts_below, remove_stale
from mason.sandbox.linux import _unescape


def test_workdir_created_and_removed(tmp_path):
    with WorkDir(tmp_path) as wd:
        assert wd.path.is_dir() and wd.path.name.startswith(PREFIX)
        (wd.sub("layers", "x") / "f").write_text("data")
        path = wd.path
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_workdir_removed_on_exception(tmp_path):
    try:
        with WorkDir(tmp_path) as wd:
            path = wd.path
            d = wd.sub("ro")
            (d / "f").write_text("x")
            os.chmod(d, 0o500)  # a read-only dir must not make cleanup fail
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not path.exists()


def test_live_workdir_is_not_stale_but_dead_one_is(tmp_path):
    with WorkDir(tmp_path) as live:
        # A work dir left by a killed process: its lock is free.
        code = (
            "import os,sys; from mason.build.workdir import WorkDir;"
            f"w=WorkDir({str(tmp_path)!r}); p=w.open(); print(p, flush=True); os._exit(9)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        dead = tmp_path / os.path.basename(out.stdout.strip())
        assert dead.is_dir()
        removed = remove_stale(tmp_path)
        assert removed == [dead]
        assert live.path.is_dir()


def test_mountinfo_parsing(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "36 35 98:0 / /work/a rw - ext4 /dev/x rw\n"
        "37 35 98:0 / /work/a/b\\040c rw - ext4 /dev/x rw\n"
        "38 35 98:0 / /work/ab rw - ext4 /dev/x rw\n"
    )
    from pathlib import Path

    assert mounts_below(Path("/work/a"), str(info)) == ["/work/a/b c", "/work/a"]
    assert _unescape("a\\134b") == "a\\b"


def test_remove_early_frees_the_name_and_close_waits_for_it(tmp_path):
    with WorkDir(tmp_path) as wd:
        steps = wd.sub("steps")
        for i in range(300):
            (steps / f"f{i}").write_text("x")
        (wd.sub("blobs") / "keep").write_text("blob")
        wd.remove_early("steps")
        assert not (wd.path / "steps").exists()          # renamed away at once
        assert (wd.path / "blobs" / "keep").read_text() == "blob"
        again = wd.sub("steps")                          # the name can be used again
        assert again.is_dir() and not any(again.iterdir())
        wd.remove_early("absent")                        # nothing there: nothing to do
        path = wd.path
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
