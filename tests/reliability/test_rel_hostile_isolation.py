"""Hostile base layers through whole builds, in every isolation level: the same decision.

The cases are ``hostilecases.CASES`` (those where the levels used to disagree, and one of each
kind of refusal), stacked on a busybox layer; the Dockerfile's RUN makes every level
materialise the base. ``namespaces`` and ``chroot`` run on this machine as root (a level can
be forced down); ``host-root`` runs only inside a container root made from mason's own image
(``tests.support.containerroot``), never on this machine's ``/``. A refused layer fails the
build with exit 1 at the FROM line, naming the layer's digest; an accepted one builds.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile

import pytest

from tests.reliability.hostilecases import CASES, layer_tar, member
from tests.reliability.relhelpers import (OCI_LAYER_GZ, assert_no_traceback, cli_env, mason, text, tree_snapshot,
                                          work_dirs, write_layout)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: namespaces and the container harness")]

MODES = ("namespaces", "chroot", "host-root")
BUILD_CASES = (
    # where the levels disagreed before the one policy
    "symlink below, file through it above", "symlink below, whiteout through it above",
    "symlink below, opaque through it above", "file below, file under it above",
    "hardlink to a lower layer", "opaque at the layer root", "whiteout under missing parents",
    # one of each refusal, and what must keep working
    "dotdot", "symlink then file (absolute)", "hardlink absolute", "block device", "whiteout of ..",
    "duplicate file", "setuid and setgid", "/dev/null",
)
DOCKERFILE = "FROM oci:{layout}\nRUN echo ran > /ran\n"


def _busybox_layer() -> list:
    with open("/bin/busybox", "rb") as f:
        data = f.read()
    return [member("bin", tarfile.DIRTYPE, mode=0o755), member("bin/busybox", data=data, mode=0o755),
            member("bin/sh", tarfile.SYMTYPE, linkname="busybox"),
            member("bin/echo", tarfile.SYMTYPE, linkname="busybox")]


def _layout(dest, name: str, sentinel: str):
    import gzip

    layers = []
    for members in [_busybox_layer(), *CASES[name].layers]:
        tar = layer_tar(members, sentinel)
        layers.append((gzip.compress(tar, mtime=0), tar, OCI_LAYER_GZ))
    return write_layout(dest, layers)


def _layer_digest(layout, index: int) -> str:
    index_doc = json.loads((layout / "index.json").read_text())
    digest = index_doc["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    return manifest["layers"][index]["digest"]


def _check(name: str, code: int, out: str, layout) -> None:
    case = CASES[name]
    if case.refuse is None:
        assert code == 0, out[-3000:]
        return
    assert code == 1, out[-3000:]
    assert case.refuse in out, out[-3000:]
    assert "Dockerfile:1" in out, out[-3000:]
    # the refused layer is the first hostile one whose content holds the refusal
    digests = [_layer_digest(layout, i) for i in range(1, len(case.layers) + 1)]
    assert any(d in out for d in digests), out[-3000:]


@pytest.fixture(scope="module")
def host_root_job(tmp_path_factory):
    """One CI job container of mason's image (host-root resets ``/`` after every build)."""
    if os.geteuid() != 0:
        pytest.skip("the container harness needs root")
    from tests.support.containerroot import Container
    from tests.support.masonimage import build, build_context

    work = tmp_path_factory.mktemp("mason-image")
    image = build(work, target=None, cache=work / "cache", context=build_context(work / "context"))
    bundle = image.unpack(work / "bundle")
    return Container(tmp_path_factory.mktemp("job"), bundle.rootfs, bundle.env())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", BUILD_CASES)
def test_hostile_base_gets_one_decision_in_every_isolation(name, mode, tmp_path, request):
    if mode == "host-root":
        job = request.getfixturevalue("host_root_job")
        base = job.builds / f"case-{abs(hash(name)) % 10**8}"
        sentinel = base / "sentinel"
        sentinel.mkdir(parents=True)
        (sentinel / "passwd").write_text("root\n")
        before = tree_snapshot(sentinel)
        inside = f"/builds/{base.name}"
        layout = _layout(base / "layout", name, f"{inside}/sentinel")
        ctx = job.context(f"{base.name}-ctx", DOCKERFILE.format(layout=f"{inside}/layout"))
        res = job.build("--context", ctx, "--no-push", "--isolation=host-root")
        out = res.stdout + res.stderr
        assert "Traceback" not in out, out[-3000:]
        _check(name, res.returncode, out, layout)
        assert tree_snapshot(sentinel) == before
        shutil.rmtree(base)
        return
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "passwd").write_text("root\n")
    before = tree_snapshot(sentinel)
    layout = _layout(tmp_path / "layout", name, str(sentinel))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(layout=layout))
    proc = mason("build", "--context", str(ctx), "--no-push", f"--isolation={mode}",
                 "--work-dir", str(tmp_path / "work"), "--cache-dir", str(tmp_path / "cache"),
                 env=cli_env(), timeout=240)
    assert_no_traceback(proc)
    _check(name, proc.returncode, text(proc), layout)
    assert work_dirs(tmp_path / "work") == []
    assert tree_snapshot(sentinel) == before
