"""A final stage of COPYs in host-root isolation: run off ``/`` over a skeleton root, reading
the stage before it from ``/`` itself, and still the privileged mode's image.

The final stage ``FROM base`` + ``COPY --from=build …`` never takes ``/`` over: ``/`` keeps the
build stage, and the COPYs read it there (``/etc/app`` too: below ``/etc``, which holds the
container's mounted ``/etc/hosts``, but clear of it); a COPY that reaches a file the skeleton
leaves out (the base's ``/bin/sh``) runs in ``/``, and the COPY after it too.
Checked: the digest equals the privileged level's and the chroot level's, the container's
root is as before, and a file planted in ``/`` afterwards still fails the next build.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.executor.buildhelpers import unpack
from tests.support.containerroot import Container
from tests.support.unpriv import SRC, run_unprivileged

pytestmark = pytest.mark.integration

DOCKERFILE = """\
ARG BASE
FROM ${BASE} AS build
RUN mkdir -p /gen/d /etc/app && echo a > /gen/d/a && echo b > /gen/b && ln -s d/a /gen/link \\
    && ln /gen/b /gen/d/b-hard && echo conf > /etc/app/conf && chown 7:8 /gen/d/a
FROM ${BASE}
COPY --from=build /gen /opt/gen
COPY --from=build /gen/b /gen/link /bin/
COPY --from=build /etc/app /opt/app
COPY files/ /opt/files/
COPY --from=build /gen/b /bin/sh
COPY files/ctx.txt /opt/last.txt
"""

FILES = {"files/ctx.txt": "from-context\n", "files/sub/x": "x\n"}


def _digest(stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if "image: sha256:" in line)
    return line.split("image: ")[1].split()[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory, busybox_layout, mason_rootfs):
    tmp = tmp_path_factory.mktemp("tail")
    (tmp / "job").mkdir()
    job = Container(tmp / "job", *mason_rootfs, busybox_layout)
    ctx_in = job.context("ctx", DOCKERFILE, FILES)
    before = job.listing()
    common = ("--no-push", "--reproducible")
    res = job.build("--context", ctx_in, *common, "--oci-layout-path", "/builds/out",
                    "--build-arg", "BASE=oci:/builds/base:latest")
    assert res.returncode == 0, res.stderr
    assert "isolation: host-root (" in res.stderr
    out = {"host-root": _digest(res.stderr)}
    ctx = job.builds / "ctx"
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("TMPDIR", None)

    def argv(name):
        return [sys.executable, "-m", "mason", "build", "--context", str(ctx), *common,
                "--oci-layout-path", str(tmp / name), "--work-dir", str(tmp / f"work-{name}"),
                "--build-arg", f"BASE=oci:{busybox_layout}:latest"]

    res = subprocess.run(argv("privileged"), env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out["privileged"] = _digest(res.stderr)
    res = run_unprivileged(argv("chroot"), env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "isolation: chroot (" in res.stderr
    out["chroot"] = _digest(res.stderr)
    return tmp, job, before, out


def test_tail_image_equals_the_privileged_one(images):
    _, _, _, out = images
    assert out["host-root"] == out["privileged"] == out["chroot"]


def test_tail_image_content_and_root_restored(images):
    tmp, job, before, _ = images
    root = unpack(job.builds / "out", tmp / "unpacked")
    assert (root / "opt/gen/d/a").read_text() == "a\n" and os.stat(root / "opt/gen/d/a").st_uid == 7
    assert os.readlink(root / "opt/gen/link") == "d/a"
    assert os.stat(root / "opt/gen/b").st_ino == os.stat(root / "opt/gen/d/b-hard").st_ino
    assert (root / "bin/b").read_text() == "b\n" and (root / "bin/link").read_text() == "a\n"
    assert (root / "bin/sh").read_text() == "b\n" and not (root / "bin/sh").is_symlink()
    assert (root / "opt/app/conf").read_text() == "conf\n"
    assert (root / "opt/files/sub/x").read_text() == "x\n"
    assert (root / "opt/last.txt").read_text() == "from-context\n"
    assert not (root / "gen").exists() and not (root / "kaniko").exists()
    assert job.listing() == before


def test_a_planted_file_still_fails_the_next_build(images):
    _, job, _, _ = images
    (job.root / "etc" / "planted").write_text("not mason's\n")
    ctx = job.context("again", "FROM oci:/builds/base:latest\nCOPY f /f\n", {"f": "f\n"})
    res = job.build("--context", ctx, "--no-push", "--oci-layout-path", "/builds/out-again")
    assert res.returncode != 0
    assert "differs from its pristine state between builds" in res.stderr and "/etc/planted" in res.stderr
