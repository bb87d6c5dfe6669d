"""Host-root isolation in containers of mason's own image (never the test machine's own ``/``):
``tests.support.containerroot`` copies the unpacked image (FROM scratch, the runtime under
``/kaniko``) into a fresh root and adds ``/.dockerenv``; the harness mounts ``/proc``, ``/sys``,
``/dev`` and the ``/etc`` files as Docker does, then Docker's capabilities and seccomp.

What is checked: RUN gets the container's real ``/proc``, ``/dev/fd``, ``/sys``; the log says
why host-root was chosen; images hold nothing of mason's or of the container's mounts;
builds one after another leave ``/`` exactly as it was; a file planted in ``/`` between builds
fails the next build; a second build at once is refused; a build killed mid-RUN (SIGTERM or
SIGKILL) never leaves the next build a dirty root, nor its secret in the root.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.integration.executor.buildhelpers import tree, unpack
from tests.support.diskscan import files_holding

pytestmark = pytest.mark.integration


def _out(job, name):
    return job.builds / name


def _isolation(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if "isolation: " in line).split("isolation: ", 1)[1]


PROC = """\
FROM oci:/builds/base:latest
RUN cat /proc/self/status | head -1 > /status && readlink /proc/self/exe > /exe && ps -o comm > /ps \\
    && ls /dev/fd/ > /fd && test -d /sys/kernel && test -c /dev/null && hostname > /dev/shm/h \\
    && touch /dev/shm/scratch /proc/self/fd/1
"""


def test_run_gets_the_containers_proc_dev_and_sys(job, tmp_path):
    ctx = job.context("ctx", PROC)
    before = job.listing()
    res = job.build("--context", ctx, "--no-push", "--oci-layout-path", "/builds/out")
    assert res.returncode == 0, res.stderr
    line = _isolation(res.stderr)
    assert line.startswith("host-root (no new namespaces (") and "inside a container (/.dockerenv exists)" in line
    assert "runtime self-contained in /kaniko:" in line
    root = unpack(_out(job, "out"), tmp_path / "unpacked")
    assert (root / "status").read_text() == "Name:\tcat\n"
    assert (root / "exe").read_text() == "/bin/busybox\n"
    assert "ps" in (root / "ps").read_text().split()
    assert (root / "fd").read_text().split()[:3] == ["0", "1", "2"]
    # Nothing of mason's, of the container's mounts or of the volume is in the image.
    assert sorted(p.name for p in root.iterdir()) == ["bin", "etc", "exe", "fd", "ps", "root", "status", "tmp"]
    assert job.listing() == before


TRAP = """\
FROM oci:/builds/base:latest AS build
RUN mkdir -p /out && echo {name} > /out/{name}.txt
FROM oci:/builds/base:latest
COPY --from=build /out /out
RUN ls /out > /seen
"""


def test_the_seed_trap_two_multistage_builds_one_container_with_cache(job, tmp_path):
    """Kaniko #1829: two multi-stage builds, one container, --cache=true; then the first again
    (all cached). Each image holds only its own files; / is as before after every build."""
    before = job.listing()
    ctx = {n: job.context(f"ctx-{n}", TRAP.format(name=n)) for n in ("a", "b")}
    for label, name in (("1", "a"), ("2", "b"), ("3", "a")):
        res = job.build("--context", ctx[name], "--no-push", "--reproducible", "--cache=true",
                        "--cache-repo", "oci:/builds/cache", "--oci-layout-path", f"/builds/out-{label}")
        assert res.returncode == 0, res.stderr
        assert _isolation(res.stderr).startswith("host-root (")
        root = unpack(_out(job, f"out-{label}"), tmp_path / f"unpacked-{label}")
        assert tree(root, "out") == {f"out/{name}.txt": f"{name}\n"}
        assert (root / "seen").read_text() == f"{name}.txt\n"
        assert job.listing() == before, label
    assert "host-root: root verified" in res.stderr


def test_a_file_planted_between_builds_fails_the_next_build(job):
    ctx = job.context("ctx", "FROM oci:/builds/base:latest\nRUN touch /x\n")
    res = job.build("--context", ctx, "--no-push", "--oci-layout-path", "/builds/out-1")
    assert res.returncode == 0, res.stderr
    (job.root / "etc" / "stray").write_text("left by someone\n")
    os.unlink(job.root / "etc" / "nsswitch.conf")
    res = job.build("--context", ctx, "--no-push", "--oci-layout-path", "/builds/out-2")
    assert res.returncode != 0
    assert ("the container's root differs from its pristine state between builds (not by mason): "
            "new: /etc/stray; missing: /etc/nsswitch.conf") in res.stderr
    assert not _out(job, "out-2").exists()
    assert (job.root / "etc" / "stray").exists()      # not ours to delete: reported


def _wait_for(proc: subprocess.Popen, text: str) -> list[str]:
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError("".join(seen))


def test_a_second_build_at_once_is_refused(job):
    slow = job.context("slow", "FROM oci:/builds/base:latest\nRUN echo sta''rted && sleep 4 && touch /done\n")
    first = job.popen("--context", slow, "--no-push", "--oci-layout-path", "/builds/out-1")
    try:
        _wait_for(first, "started")
        res = job.build("--context", slow, "--no-push", "--oci-layout-path", "/builds/out-2")
        rest = first.stdout.read()
        assert first.wait(timeout=120) == 0, rest
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert res.returncode != 0
    assert "another mason build (pid " in res.stderr and "one build at a time per container" in res.stderr
    assert not _out(job, "out-2").exists() and _out(job, "out-1").is_dir()


def _alive(tag: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", f"^sleep {tag}$"], capture_output=True, text=True).stdout.split()


@pytest.mark.parametrize("signum,tag", [(signal.SIGTERM, "361"), (signal.SIGKILL, "362")])
def test_killed_mid_run_the_next_build_finds_the_root_restored(job, tmp_path, signum, tag):
    before = job.listing()
    secret = f"hostroot-secret-{tag}-5f3a9c"
    (job.builds / "tok").write_text(secret)
    ctx = job.context("ctx", "FROM oci:/builds/base:latest\nRUN --mount=type=secret,id=tok mkdir /half "
                             "&& touch /half/done /etc/x && test -f /run/secrets/tok "
                             f"&& echo sta''rted && sleep {tag}\n")
    proc = job.popen("--context", ctx, "--no-push", "--oci-layout-path", "/builds/out-1",
                     "--secret", "id=tok,src=/builds/tok")
    try:
        _wait_for(proc, "started")
        time.sleep(0.3)
        proc.send_signal(signum)      # the harness execs mason: this is mason's pid
        proc.stdout.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _alive(tag):       # SIGKILL: no one was left to stop the RUN
            os.kill(int(pid), signal.SIGKILL)
    assert code == (143 if signum == signal.SIGTERM else -signal.SIGKILL)
    # The secret was a copy in / (on disk) while the RUN ran; the RUN's supervisor scrubs it
    # when mason dies too. Bounded wait: it does so once the RUN's processes are gone.
    deadline = time.monotonic() + 30
    while files_holding(job.root, secret.encode()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert files_holding(job.root, secret.encode()) == []
    if signum == signal.SIGTERM:
        assert job.listing() == before    # mason restored / itself on the way out
    else:
        assert (job.root / "half" / "done").exists()   # really left dirty
    ctx2 = job.context("ctx2", "FROM oci:/builds/base:latest\nRUN ls / > /top && ls /etc > /etcs\n")
    res = job.build("--context", ctx2, "--no-push", "--oci-layout-path", "/builds/out-2")
    assert res.returncode == 0, res.stderr
    if signum == signal.SIGKILL:
        assert "replayed the journal of an interrupted build" in res.stderr
    root = unpack(_out(job, "out-2"), tmp_path / "unpacked")
    assert "half" not in (root / "top").read_text().split()
    assert (root / "etcs").read_text().split() == ["group", "hosts", "passwd", "resolv.conf"]
    assert job.listing() == before


def test_apt_get_install_on_a_debootstrapped_debian_base(tmp_path, mason_rootfs):
    """Kaniko's everyday job: a Debian base (debootstrap, packed by umoci: tests.support.masonimage),
    apt-get from the Debian mirror, then tools that need /proc."""
    from tests.support.containerroot import Container
    from tests.support.masonimage import DEBIAN_TAG, debian_base

    job = Container(tmp_path, *mason_rootfs, str(debian_base()))
    ctx = job.context("ctx", f"FROM oci:/builds/base:{DEBIAN_TAG}\n"
                             "RUN apt-get update -q && apt-get install -y -q --no-install-recommends procps "
                             "&& ps -eo comm > /ps && rm -rf /var/lib/apt/lists/*\n")
    before = job.listing()
    res = job.build("--context", ctx, "--no-push", "--oci-layout-path", "/builds/out", timeout=900)
    assert res.returncode == 0, res.stderr
    root = unpack(_out(job, "out"), tmp_path / "unpacked")
    assert "ps" in (root / "ps").read_text().split()
    assert (root / "usr/bin/ps").is_file() and not (root / "kaniko").exists()
    assert job.listing() == before
