"""What a RUN cannot do in chroot isolation fails clearly, naming the Dockerfile line, and never
produces a silently different image; every exit path leaves no work dir and a clean layer.

All builds run in one Python process in the harness (one start-up) through ``run_build``.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.executor.buildhelpers import unpack, write_context
from tests.support.unpriv import python_in_harness

pytestmark = pytest.mark.integration

DRIVER = r"""
import json, sys
from pathlib import Path
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions, SecretSource
cases, out, work = json.loads(sys.argv[1])
report = {}
for name, ctx in cases.items():
    opts = BuildOptions(context_dir=Path(ctx), no_push=True, oci_layout_path=Path(out) / name,
                        work_root=Path(work) / name, cache_dir=Path(work) / "cache",
                        secrets=(SecretSource("tok", b"value"),))
    try:
        r = run_build(opts)
        report[name] = {"ok": r.isolation}
    except Exception as e:
        report[name] = {"error": type(e).__name__, "message": str(e), "hint": getattr(e, "hint", None)}
    report[name]["work_left"] = sorted(p.name for p in (Path(work) / name).iterdir())
print(json.dumps(report))
"""

PREFIX = "FROM {base}\nRUN echo first > /first\n"

REFUSED = {
    "mount-in-dev": ("RUN --mount=type=tmpfs,target=/dev/scratch true", "RUN --mount at /dev/scratch: that directory"),
    "network-none": ("RUN --network=none true", "RUN --network=none needs a network namespace"),
}

# RUN --mount without mount rights: emulated (mason.sandbox.mountemu), never in the layer.
EMULATED = {
    "mount-secret": "RUN --mount=type=secret,id=tok test \"$(cat /run/secrets/tok)\" = value",
    "mount-cache": "RUN --mount=type=cache,target=/var/cache/x touch /var/cache/x/y",
    "mount-tmpfs": "RUN --mount=type=tmpfs,target=/scratch touch /scratch/z",
    "mount-bind": "RUN --mount=type=bind,source=.,target=/ctx test -f /ctx/Dockerfile",
}

FAILING = {
    # the tool's own error, then mason's line saying why this mode lacks it
    "reads-proc": ("RUN cat /proc/self/status", "cat: can't open '/proc/self/status': No such file or directory"),
    "exit-3": ("RUN exit 3", "exited with code 3"),
    # refused after the command: the layer would differ from the privileged mode's
    "replaces-hosts": ("RUN sed -i s/localhost/lh/ /etc/hosts", "the RUN removed or replaced /etc/hosts"),
    "removes-resolv": ("RUN rm /etc/resolv.conf", "the RUN removed or replaced /etc/resolv.conf"),
    "writes-proc": ("RUN mkdir -p /proc/1/x", "the RUN created /proc/1/x, /proc/1"),
}

CLEAN = ("RUN cat /etc/hosts /etc/resolv.conf > /dev/null && echo hi >> /etc/hosts && touch /etc/marker "
         "&& mkdir -p /dev/pts && echo x > /dev/x && touch /dev/shm/y")


@pytest.fixture(scope="module")
def report(tmp_path_factory, busybox_layout):
    tmp = tmp_path_factory.mktemp("unpriv-limits")
    base = f"oci:{busybox_layout}:latest"
    cases = {}
    lines = {name: line for name, (line, _) in {**REFUSED, **FAILING}.items()}
    for name, line in {**lines, **EMULATED, "clean": CLEAN}.items():
        cases[name] = str(write_context(tmp / f"ctx-{name}", PREFIX.format(base=base) + line + "\n"))
    out, work = tmp / "out", tmp / "work"
    out.mkdir()
    arg = json.dumps([cases, str(out), str(work)])
    res = python_in_harness(f"import sys; sys.argv[1:] = [{arg!r}]\n" + DRIVER, timeout=180)
    assert res.returncode == 0, res.stderr
    return tmp, cases, json.loads(res.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_before_running_naming_the_line(report, name):
    _, cases, rep = report
    got = rep[name]
    assert got.get("error") == "NotSupportedError", got
    assert got["message"].startswith(f"{cases[name]}/Dockerfile:3: RUN: "), got
    assert REFUSED[name][1] in got["message"] and "(isolation: chroot)" in got["message"]
    assert "docs/unprivileged.md" in got["hint"]
    assert got["work_left"] == []


@pytest.mark.parametrize("name", sorted(EMULATED))
def test_run_mounts_are_emulated_and_leave_no_trace(report, name):
    tmp, _, rep = report
    assert rep[name] == {"ok": "chroot", "work_left": []}, rep[name]
    root = unpack(tmp / "out" / name, tmp / f"unpacked-{name}")
    assert sorted(p.name for p in root.iterdir()) == ["bin", "etc", "first", "root", "tmp"]


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failing_run_names_the_line_and_cleans_up(report, name):
    _, cases, rep = report
    got = rep[name]
    assert got.get("error") == "BuildError", got
    assert got["message"].startswith(f"{cases[name]}/Dockerfile:3: "), got
    assert FAILING[name][1] in got["message"], got
    assert got["work_left"] == []


def test_a_command_failing_here_says_why(report):
    _, _, rep = report
    lines = rep["reads-proc"]["message"].splitlines()
    assert lines[-2:] == ["  | cat: can't open '/proc/self/status': No such file or directory",
                          "  | mason: this RUN ran with chroot isolation: no /proc, /sys, /dev/pts or /dev/fd "
                          "(see docs/unprivileged.md)"]


def test_sandbox_files_never_reach_the_layer(report):
    """/etc/hosts and /etc/resolv.conf are written for the RUN and restored (the busybox base has
    neither: they must be gone), and whatever the RUN put in /dev is discarded, as the privileged
    mode's tmpfs would; the RUN's own /etc/marker is kept."""
    tmp, _, rep = report
    assert rep["clean"] == {"ok": "chroot", "work_left": []}
    root = unpack(tmp / "out" / "clean", tmp / "unpacked-clean")
    assert (root / "etc/marker").exists() and (root / "first").read_text() == "first\n"
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["group", "marker", "passwd"]
    assert not (root / "dev").exists()
