"""The mount-free chroot runner and choosing a runner from detected capabilities."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mason.errors import NotSupportedError, UsageError
from mason.sandbox.capabilities import Isolation, choose, detect
from mason.sandbox.chroot import ChrootRunner
from mason.sandbox.namespace import NamespaceRunner
from mason.sandbox.runner import make_runner
from mason.sandbox.spec import Mount, RunSpec
from mason.sandbox.users import resolve_user
from mason.snapshot import walker

ENV = ("PATH=/bin",)
SRC = str(Path(__file__).resolve().parents[3] / "src")


def _run(tmp_path, root, script, **kw):
    lines = []
    spec = RunSpec(root=root, argv=("/bin/sh", "-c", script), env=ENV, **kw)
    code = ChrootRunner(tmp_path / "work").run(spec, lambda s, line: lines.append((s, line)))
    return code, lines


def test_chroot_run_changes_only_what_it_writes(tmp_path, busybox_root):
    (busybox_root / "etc/hosts").write_text("# image hosts\n")
    os.utime(busybox_root / "etc/hosts", ns=(10**18, 10**18))
    os.utime(busybox_root / "etc", ns=(1_600_000_000_000_000_000,) * 2)
    with open("/etc/hosts", "rb") as f:
        host_hosts = f.read()
    snap = walker.take(busybox_root)
    code, lines = _run(tmp_path, busybox_root, """
        set -e
        echo data > /tmp/out; head -c 4 /dev/zero | wc -c; grep -q localhost /etc/hosts
        echo '6.6.6.6 evil' >> /etc/hosts
        (sleep 31177 &) ; setsid sleep 31277 &
        echo done""")
    assert code == 0, lines
    assert [line for s, line in lines if s == "stdout"] == ["4", "done"]
    cs = snap.diff()
    assert cs.paths == ("tmp", "tmp/out") and cs.whiteouts == ()
    assert (busybox_root / "etc/hosts").read_text() == "# image hosts\n"
    assert not (busybox_root / "dev").exists()
    with open("/etc/hosts", "rb") as f:
        assert f.read() == host_hosts
    # The kill is asynchronous: give the kernel up to 5 s (a loaded CI machine) to reap them.
    deadline = time.monotonic() + 5
    while True:
        leftovers = [p for p in os.listdir("/proc")
                     if p.isdigit() and _cmdline(p) in (b"sleep\x0031177\x00", b"sleep\x0031277\x00")]
        if not leftovers or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert leftovers == []


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_chroot_user_workdir_and_exit_code(tmp_path, busybox_root):
    code, lines = _run(tmp_path, busybox_root, "id -u; id -G; pwd; exit 7",
                       user=resolve_user(busybox_root, "app"), cwd="/home/app")
    assert code == 7
    assert [line for _, line in lines] == ["1000", "1000 50", "/home/app", "mason: this RUN ran with chroot "
                                           "isolation: no /proc, /sys, /dev/pts or /dev/fd (see docs/unprivileged.md)"]
    assert os.stat(busybox_root / "home/app").st_uid == 1000


def test_chroot_timeout_kills(tmp_path, busybox_root):
    from mason.errors import BuildError
    with pytest.raises(BuildError, match="timed out"):
        _run(tmp_path, busybox_root, "sleep 313", timeout=0.5)
    time.sleep(0.1)
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == b"sleep\x00313\x00"]


def test_chroot_refuses_what_it_cannot_do(tmp_path, busybox_root):
    with pytest.raises(NotSupportedError, match="--network=none"):
        _run(tmp_path, busybox_root, "true", network="none")
    with pytest.raises(NotSupportedError, match="RUN --mount at /proc/x: that directory is the sandbox's own"):
        _run(tmp_path, busybox_root, "true", mounts=(Mount("/proc/x", kind="tmpfs"),))


def _state(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else None
            out[os.path.relpath(p, root)] = (st.st_ino, st.st_mode, st.st_uid, st.st_mtime_ns, data)
    st = os.lstat(root)
    out["."] = (st.st_ino, st.st_mode, st.st_mtime_ns)
    return out


def test_chroot_emulates_mounts_and_restores_what_was_under_them(tmp_path, busybox_root):
    (busybox_root / "data").mkdir()
    (busybox_root / "data/keep").write_text("orig\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "in.txt").write_text("from-source\n")
    secret = tmp_path / "secret"
    secret.write_bytes(b"v")
    os.chmod(secret, 0o400)
    cache = tmp_path / "cache"
    cache.mkdir()
    before = _state(busybox_root)
    mounts = (Mount("/data", source=src), Mount("/scratch/t", kind="tmpfs"),
              Mount("/run/secrets/s", source=secret), Mount("/var/cache/c", source=cache, readonly=False, move=True))
    code, lines = _run(tmp_path, busybox_root, "cat /data/in.txt; test ! -e /data/keep; ls -ld /scratch/t | cut -c1-10; "
                       "stat -c %a /run/secrets/s; echo hit >> /var/cache/c/log", mounts=mounts)
    assert code == 0, lines
    assert [line for _, line in lines] == ["from-source", "drwxrwxrwt", "400"]
    assert _state(busybox_root) == before          # same inodes, bytes, modes, times: nothing left
    assert (cache / "log").read_text() == "hit\n" and (src / "in.txt").read_text() == "from-source\n"


def test_detect_and_choose(tmp_path):
    here = detect(tmp_path / "w")
    assert here.level == "namespaces" and here.overlay
    assert os.listdir(tmp_path / "w") == []
    assert isinstance(make_runner(here, tmp_path), NamespaceRunner)
    forced = choose(here, "chroot")
    assert forced.level == "chroot" and isinstance(make_runner(forced, tmp_path), ChrootRunner)
    with pytest.raises(UsageError, match="not available"):
        choose(Isolation("chroot", "no namespaces"), "namespaces")
    with pytest.raises(NotSupportedError, match="cannot be isolated"):
        make_runner(Isolation("none", "no CAP_SYS_CHROOT"), tmp_path)


def test_detect_without_sys_admin_falls_back_to_chroot(tmp_path):
    """Docker's default capability set (no CAP_SYS_ADMIN): no namespaces, chroot allowed."""
    capsh = shutil.which("capsh")
    code = f"import sys; sys.path.insert(0, {SRC!r}); from mason.sandbox.capabilities import detect; " \
           f"i = detect({str(tmp_path / 'w')!r}); print(i.level); print(i.reason)"
    res = subprocess.run([capsh, "--drop=cap_sys_admin", "--", "-c", f"{sys.executable} -c \"{code}\""],
                         capture_output=True, text=True, check=True)
    level, reason = res.stdout.splitlines()
    assert level == "chroot"
    assert "Operation not permitted" in reason
