"""The namespace sandbox: isolation, users, mounts, cleanup, and nothing of its own in the layer."""

import os
import threading
import time

import pytest

from mason.errors import BuildError
from mason.sandbox import linux
from mason.sandbox.namespace import NamespaceRunner
from mason.sandbox.spec import Mount, RunSpec
from mason.sandbox.users import resolve_user
from mason.snapshot.overlay import OverlayRoot
from mason.snapshot.upperdiff import diff_upper
from mason.snapshot import walker

ENV = ("PATH=/bin", "HOME=/root")


class Collect:
    def __init__(self):
        self.lines = []

    def __call__(self, stream, line):
        self.lines.append((stream, line))

    def out(self, stream="stdout"):
        return [line for s, line in self.lines if s == stream]


def _mounts_under(path):
    return [p for p in linux.mount_points() if p.startswith(str(path))]


def run(tmp_path, root, script, **kw):
    out = Collect()
    spec = RunSpec(root=root, argv=("/bin/sh", "-c", script), env=kw.pop("env", ENV), **kw)
    code = NamespaceRunner(tmp_path / "work").run(spec, out)
    return code, out


def test_run_on_overlay_produces_exactly_the_written_files(tmp_path, busybox_root):
    with open("/etc/hosts", "rb") as f:
        host_hosts = f.read()
    with OverlayRoot([busybox_root], tmp_path / "step") as ov:
        code, out = run(tmp_path, ov.merged, """
            set -e
            echo built > /tmp/out.txt
            mkdir -p /app && echo hi > /app/hello
            echo 'nameserver 9.9.9.9' > /etc/resolv.conf   # a throw-away copy, not the host's
            echo '1.2.3.4 evil' >> /etc/hosts
            test -c /dev/null && test -e /proc/self/status && test -d /sys/kernel
            ! touch /sys/kernel/x 2>/dev/null
            sleep 3017 &
            echo started-background""")
        assert code == 0, out.lines
        assert out.out() == ["started-background"]
    cs = diff_upper(ov.upper, [busybox_root])
    assert cs.paths == ("app", "app/hello", "tmp", "tmp/out.txt")
    assert cs.whiteouts == () and cs.opaque_dirs == ()
    with open("/etc/hosts", "rb") as f:
        assert f.read() == host_hosts
    assert _mounts_under(tmp_path) == []
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p) == b"sleep\x003017\x00"]
    assert os.listdir(tmp_path / "work") == []  # the run's scratch dir is gone


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_walker_sees_no_sandbox_stubs(tmp_path, busybox_root):
    snap = walker.take(busybox_root)
    code, out = run(tmp_path, busybox_root, "ls /proc/1 >/dev/null && cat /etc/resolv.conf >/dev/null; echo x > /x")
    assert code == 0, out.lines
    cs = snap.diff()
    assert cs.paths == ("x",) and cs.whiteouts == ()


def test_pid_and_uts_isolation_and_exit_code(tmp_path, busybox_root):
    code, out = run(tmp_path, busybox_root, "echo $$; hostname; ls /proc | grep -c '^[0-9]'; echo err >&2; exit 3")
    assert code == 3
    pid, hostname, nprocs = out.out()
    assert int(pid) <= 3 and hostname == "mason" and int(nprocs) <= 4
    assert out.out("stderr") == ["err"]


def test_user_groups_env_and_workdir(tmp_path, busybox_root):
    user = resolve_user(busybox_root, "app")
    code, out = run(tmp_path, busybox_root, "id -u; id -g; id -G; pwd; env | sort; touch f",
                    env=("PATH=/bin", "HOME=/home/app", "A=b c"), user=user, cwd="/work/dir")
    assert code == 0, out.lines
    lines = out.out()
    assert lines[:4] == ["1000", "1000", "1000 50", "/work/dir"]
    assert sorted(lines[4:]) == sorted(["A=b c", "HOME=/home/app", "PATH=/bin", "PWD=/work/dir", "SHLVL=1"])
    st = os.stat(busybox_root / "work/dir")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert os.stat(busybox_root / "work/dir/f").st_uid == 1000


def test_exec_form_path_lookup_inside_image_and_missing_command(tmp_path, busybox_root):
    out = Collect()
    runner = NamespaceRunner(tmp_path / "work")
    assert runner.run(RunSpec(root=busybox_root, argv=("echo", "exec", "form"), env=ENV), out) == 0
    assert out.out() == ["exec form"]
    out = Collect()
    assert runner.run(RunSpec(root=busybox_root, argv=("no-such-tool",), env=ENV), out) == 127
    assert "no-such-tool" in out.out("stderr")[0]


def test_extra_mounts_secret_bind_tmpfs_leave_nothing(tmp_path, busybox_root):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t")
    data = tmp_path / "data"
    data.mkdir()
    (data / "in").write_text("input\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    snap = walker.take(busybox_root)
    code, out = run(tmp_path, busybox_root, """
        set -e
        cat /run/secrets/token; echo
        cat /src/in; ! touch /src/nope 2>/dev/null
        echo cached > /cache/c
        echo scratch > /scratch/t; grep -q ' /scratch tmpfs' /proc/mounts && echo tmpfs-ok""",
        mounts=(Mount("/run/secrets/token", source=secret), Mount("/src", source=data),
                Mount("/cache", source=cache, readonly=False), Mount("/scratch", kind="tmpfs")))
    assert code == 0, out.lines
    assert out.out() == ["s3cr3t", "input", "tmpfs-ok"]
    assert (cache / "c").read_text() == "cached\n"
    assert snap.diff().empty  # no /run, /src, /cache, /scratch stubs, no secret
    assert sorted(os.listdir(busybox_root)) == ["bin", "etc", "tmp"]


def test_network_none_has_only_loopback(tmp_path, busybox_root):
    code, out = run(tmp_path, busybox_root, "ls /sys/class/net; ip -o link | grep -c UP",
                    network="none")
    assert code == 0, out.lines
    assert out.out() == ["lo", "1"]


def test_default_network_is_its_own_with_slirp4netns(tmp_path, busybox_root):
    code, out = run(tmp_path, busybox_root, "ls /sys/class/net; ip route; readlink /proc/self/ns/net; "
                    "cat /etc/resolv.conf")
    assert code == 0, out.lines
    lines = out.out()
    assert lines[:2] == ["lo", "tap0"]
    assert "default via 10.0.2.2 dev tap0 " in lines
    assert os.readlink("/proc/self/ns/net") not in lines
    assert lines[-1] == "nameserver 10.0.2.3"
    # slirp4netns went with the RUN: none is left attached to a namespace of ours
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_child_slirp(pid)]


def _is_child_slirp(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        return ppid == os.getpid() and os.readlink(f"/proc/{pid}/exe").endswith("slirp4netns")
    except OSError:
        return False


def test_default_network_without_slirp4netns_is_refused(tmp_path, busybox_root, monkeypatch):
    from mason.errors import NotSupportedError

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(NotSupportedError, match="needs slirp4netns"):
        run(tmp_path, busybox_root, "true")
    assert _mounts_under(busybox_root) == []
    assert sorted(os.listdir(busybox_root)) == ["bin", "etc", "tmp"]


def test_timeout_kills_everything(tmp_path, busybox_root):
    start = time.monotonic()
    with pytest.raises(BuildError, match="timed out after 1s"):
        run(tmp_path, busybox_root, "sleep 30171 & sleep 30172", timeout=1)
    assert time.monotonic() - start < 10
    time.sleep(0.2)
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).startswith(b"sleep\x003017")]
    assert _mounts_under(tmp_path) == []
    assert sorted(os.listdir(busybox_root)) == ["bin", "etc", "tmp"]


def test_cancel_from_another_thread(tmp_path, busybox_root):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    spec = RunSpec(root=busybox_root, argv=("/bin/sh", "-c", "echo up; sleep 303"), env=ENV)
    out = Collect()
    with pytest.raises(BuildError, match="cancelled"):
        NamespaceRunner(tmp_path / "work").run(spec, out, cancel=cancel)
    assert out.out() == ["up"]


def test_two_runs_in_parallel_threads_do_not_interfere(tmp_path, busybox_root):
    from tests.support.busyroot import make_busybox_root
    other = make_busybox_root(tmp_path / "other")
    results = {}

    def go(name, root):
        results[name] = run(tmp_path / name, root, f"echo {name} > /who; cat /who")

    threads = [threading.Thread(target=go, args=(n, r)) for n, r in (("one", busybox_root), ("two", other))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results["one"][1].out() == ["one"] and results["two"][1].out() == ["two"]
    assert (busybox_root / "who").read_text() == "one\n" and (other / "who").read_text() == "two\n"


def test_symlinked_mount_targets_stay_inside_root(tmp_path, busybox_root):
    """An image whose /etc/hosts points outside must not make mason mount over a host path."""
    os.symlink("/../../../../../../etc/hostname-of-host", busybox_root / "etc/hosts")
    code, out = run(tmp_path, busybox_root, "cat /etc/hosts")
    assert code == 0, out.lines
    assert out.out()[0].startswith("127.0.0.1")
    assert os.path.islink(busybox_root / "etc/hosts")
    assert not os.path.exists(busybox_root / "etc/hostname-of-host")
