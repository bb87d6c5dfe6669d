import os
import subprocess
import sys

import pytest

from mason.executor.workdir import PREFIX, WorkDir, mounts_below, remove_stale
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
            "import os,sys; from mason.executor.workdir import WorkDir;"
            f"w=WorkDir({str(tmp_path)!r}); p=w.open(); print(p, flush=True); os._exit(9)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        dead = tmp_path / os.path.basename(out.stdout.strip())
        assert dead.is_dir()
        removed = remove_stale(tmp_path)
        assert removed == [dead]
        assert live.path.is_dir()
        assert mounts_below(dead) == [] and not dead.exists()   # its scratch fs went with it


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
    from mason.sandbox.linux import Mount, mount_table

    info.write_text("36 35 98:0 / /m/ov rw shared:7 - overlay  rw,lowerdir=x\n"
                    "37 35 7:3 / /m/fs rw - ext4 /dev/loop3 rw\n")
    assert mount_table(str(info)) == [Mount("/m/ov", "overlay", ""), Mount("/m/fs", "ext4", "/dev/loop3")]


def test_remove_early_frees_the_name_and_close_waits_for_it(tmp_path):
    with WorkDir(tmp_path) as wd:
        steps = wd.sub("steps")
        for i in range(300):
            (steps / f"f{i}").write_text("x")
        (wd.sub("blobs") / "keep").write_text("blob")
        wd.remove_early("steps")
        assert not (wd.data / "steps").exists()          # renamed away at once
        assert (wd.data / "blobs" / "keep").read_text() == "blob"
        again = wd.sub("steps")                          # the name can be used again
        assert again.is_dir() and not any(again.iterdir())
        wd.remove_early("absent")                        # nothing there: nothing to do
        path = wd.path
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def _loops_backed_under(path) -> list[str]:
    """Loop devices whose backing file lies under ``path``: this test's own, whatever other
    builds on the machine attach or detach meanwhile (a count of all of them is not)."""
    from pathlib import Path

    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            name = backing.read_text().strip()
        except OSError:             # detached while we looked
            continue
        if name.startswith(str(path).rstrip("/") + "/"):
            found.append(backing.parent.parent.name)
    return found


@pytest.mark.root
def test_scratch_filesystem_is_private_and_leaves_nothing(tmp_path):
    """As root with loop devices, on a non-tmpfs work root, the build's files live on an ext4
    of its own; closing the work dir leaves no mount, no loop device and no file behind."""
    from mason.executor import scratchfs

    with WorkDir(tmp_path) as wd:
        reason = scratchfs.unavailable(tmp_path)
        if reason is not None:          # the same machine CI uses has all of it: say so loudly
            assert wd.scratch_refused == reason and wd.data == wd.path
            raise AssertionError(f"scratch filesystem not available here: {reason}")
        assert wd.data == wd.path / "fs" and mounts_below(wd.data) == [str(wd.data)]
        assert os.stat(wd.data).st_dev != os.stat(wd.path).st_dev
        (wd.sub("steps", "a") / "f").write_text("x")
        assert scratchfs.errors(wd.data) == 0
        wd.check()
        assert len(_loops_backed_under(wd.path)) == 1
        path = wd.path
    assert not path.exists() and mounts_below(path) == []
    assert _loops_backed_under(path) == []


def test_scratch_filesystem_can_be_turned_off(tmp_path):
    with WorkDir(tmp_path, scratch_fs=False) as wd:
        assert wd.data == wd.path and wd.scratch_refused == "disabled"
        assert mounts_below(wd.path) == []


@pytest.mark.root
def test_scratch_errors_are_read_from_ext4s_counter(tmp_path):
    """``check`` refuses a scratch filesystem that counted I/O errors (the count is read from
    sysfs; a fake sysfs stands in for a host disk filling up under the loop device)."""
    from pathlib import Path

    import pytest

    from mason.executor import scratchfs
    from mason.errors import BuildError

    with WorkDir(tmp_path) as wd:
        if wd.data == wd.path:
            raise AssertionError(f"scratch filesystem not available here: {wd.scratch_refused}")
        device = scratchfs._device(wd.data)
        assert device and device.startswith("/dev/loop")
        fake = tmp_path / "sysfs"
        (fake / os.path.basename(device)).mkdir(parents=True)
        (fake / os.path.basename(device) / "errors_count").write_text("3\n")
        assert scratchfs.errors(wd.data, sysfs=fake) == 3
        real = Path("/sys/fs/ext4") / os.path.basename(device) / "errors_count"
        assert real.read_text().strip() == "0"
        original = scratchfs.errors
        try:
            scratchfs.errors = lambda mountpoint: 3
            with pytest.raises(BuildError, match="3 I/O error"):
                wd.check()
        finally:
            scratchfs.errors = original


@pytest.mark.root
def test_no_scratch_filesystem_is_tried_without_the_right_to_mount_it(tmp_path, monkeypatch):
    """Without CAP_SYS_ADMIN (a CI job container) neither mkfs nor mount is run: the work dir is
    a plain directory at once, and says why."""
    import subprocess

    from mason.executor import scratchfs

    monkeypatch.setattr(scratchfs, "capability_set", lambda: 0)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: ran.append(argv))
    with WorkDir(tmp_path) as wd:
        assert wd.data == wd.path and wd.scratch_refused == "no CAP_SYS_ADMIN to mount it"
        (wd.sub("steps", "a") / "f").write_text("x")
    assert ran == []
