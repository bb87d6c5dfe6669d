"""One Dockerfile using every ``RUN --mount`` type gives the same image (``--reproducible``) in
the privileged level (namespaces, real mounts), in host-root isolation (in a throw-away container
root) and in chroot isolation (the unprivileged harness), where mounts are emulated
(``mason.sandbox.mountemu``); the secret's value is in no byte of any image."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

from tests.integration.executor.buildhelpers import tree, unpack
from tests.support.containerroot import Container
from tests.support.unpriv import SRC, run_unprivileged

pytestmark = pytest.mark.integration

SECRET = b"s3cr3t-value-7f1c"

DOCKERFILE = """\
ARG BASE
FROM ${BASE} AS tools
RUN mkdir -p /out && echo from-stage > /out/a.txt

FROM ${BASE}
RUN mkdir -p /data /var/cache/app && echo orig > /data/keep && echo c0 > /var/cache/app/seed
RUN --mount=type=secret,id=tok sh -c 'test "$(stat -c %a /run/secrets/tok)" = 400 && wc -c < /run/secrets/tok > /secret-len'
RUN --mount=type=secret,id=tok,target=/data/tok,mode=0440 sh -c 'stat -c %a /data/tok > /secret-mode'
RUN --mount=type=cache,id=app,target=/var/cache/app sh -c 'echo run >> /var/cache/app/log && ls /var/cache/app > /cache-ls'
RUN --mount=type=cache,id=app,target=/var/cache/app,sharing=locked sh -c 'wc -l < /var/cache/app/log > /cache-count'
RUN --mount=type=cache,id=app,target=/var/cache/app,ro sh -c 'cat /var/cache/app/log > /cache-ro-seen; echo ro >> /var/cache/app/log 2>/dev/null; true'
RUN --mount=type=cache,id=app,target=/var/cache/app sh -c 'wc -l < /var/cache/app/log > /cache-count-after-ro'
RUN --mount=type=bind,source=files,target=/data cat /data/ctx.txt > /seen-ctx
RUN --mount=type=bind,source=files,target=/data,rw sh -c 'echo changed > /data/ctx.txt && touch /data/new'
RUN --mount=type=bind,from=tools,source=/out,target=/mnt/out cp /mnt/out/a.txt /copied
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/f && ls /scratch > /tmpfs-ls'
RUN --mount=type=cache,id=inner,target=/nest/c/in --mount=type=cache,id=outer,target=/nest/c sh -c 'echo i > /nest/c/in/f && echo o > /nest/c/g && ls /nest/c > /nest-ls'
RUN --mount=type=cache,id=inner,target=/in2 --mount=type=cache,id=outer,target=/out2 sh -c 'cat /in2/f > /inner-seen && ls /out2 > /outer-ls'
RUN cat /data/keep > /keep-after && ls /var/cache/app > /cache-after && ls /data > /data-after
"""

FILES = {"files/ctx.txt": "from-context\n"}


def _digest(stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if "image: sha256:" in line)
    return line.split("image: ")[1].split()[0]


def _isolation(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if "isolation: " in line).split("isolation: ", 1)[1]


@pytest.fixture(scope="module")
def images(tmp_path_factory, busybox_layout, mason_rootfs):
    tmp = tmp_path_factory.mktemp("mounts")
    (tmp / "job").mkdir()
    job = Container(tmp / "job", *mason_rootfs, busybox_layout)
    ctx_in = job.context("ctx", DOCKERFILE, FILES)
    (job.builds / "secret.txt").write_bytes(SECRET)
    common = ("--no-push", "--reproducible")
    res = job.build("--context", ctx_in, *common, "--oci-layout-path", "/builds/out",
                    "--build-arg", "BASE=oci:/builds/base:latest", "--secret", "id=tok,src=/builds/secret.txt")
    assert res.returncode == 0, res.stderr
    out = {"host-root": (job.builds / "out", _digest(res.stderr), _isolation(res.stderr))}
    ctx = job.builds / "ctx"
    secret = job.builds / "secret.txt"
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("TMPDIR", None)

    def argv(name, *extra):
        return [sys.executable, "-m", "mason", "build", "--context", str(ctx), *common,
                "--oci-layout-path", str(tmp / name), "--work-dir", str(tmp / f"work-{name}"),
                "--build-arg", f"BASE=oci:{busybox_layout}:latest", "--secret", f"id=tok,src={secret}", *extra]

    res = subprocess.run(argv("privileged"), env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out["privileged"] = (tmp / "privileged", _digest(res.stderr), _isolation(res.stderr))
    res = run_unprivileged(argv("chroot"), env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    out["chroot"] = (tmp / "chroot", _digest(res.stderr), _isolation(res.stderr))
    return tmp, out


def test_each_level_is_the_one_claimed(images):
    _, out = images
    assert out["privileged"][2].startswith("namespaces (")
    assert out["host-root"][2].startswith("host-root (")
    assert out["chroot"][2].startswith("chroot (no new namespaces (")


def _manifest(layout) -> dict:
    import json

    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":", 1)[1]
    return json.loads((layout / "blobs" / "sha256" / digest).read_text())


def _layers(layout) -> list[list[str]]:
    """Each layer's members as ``tar -tv`` lists them, with full times, numeric owners and
    xattrs, then each regular file's sha256 (a readable diff when digests differ)."""
    import hashlib
    import tarfile

    out = []
    for layer in _manifest(layout)["layers"]:
        blob = layout / "blobs" / "sha256" / layer["digest"].split(":", 1)[1]
        listing = subprocess.run(["tar", "--full-time", "--numeric-owner", "--xattrs", "-tvzf", str(blob)],
                                 capture_output=True, text=True).stdout.splitlines()
        with tarfile.open(blob) as tar:
            for member in tar:
                if member.isfile():
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    listing.append(f"{member.name} {hashlib.sha256(data).hexdigest()} pax={member.pax_headers}")
        out.append(listing)
    return out


def _config(layout) -> dict:
    import json

    digest = _manifest(layout)["config"]["digest"].split(":", 1)[1]
    config = json.loads((layout / "blobs" / "sha256" / digest).read_text())
    config["rootfs"].pop("diff_ids", None)      # follow from the layers, compared above
    return config


def test_same_digest_in_every_level(images):
    _, out = images
    assert _layers(out["host-root"][0]) == _layers(out["privileged"][0])
    assert _layers(out["chroot"][0]) == _layers(out["privileged"][0])
    assert _config(out["host-root"][0]) == _config(out["privileged"][0])
    assert _config(out["chroot"][0]) == _config(out["privileged"][0])
    assert out["privileged"][1] == out["host-root"][1] == out["chroot"][1]


def test_mounts_did_their_job_and_left_nothing(images):
    tmp, out = images
    root = unpack(out["host-root"][0], tmp / "unpacked")
    read = lambda p: (root / p).read_text()  # noqa: E731
    assert read("secret-len").strip() == str(len(SECRET))
    assert read("secret-mode") == "440\n"
    assert read("cache-ls") == "log\n" and read("cache-count").strip() == "1"    # persisted: the next RUN reads it
    # a read-only cache mount shows the cache and keeps nothing the RUN wrote to it
    assert read("cache-ro-seen") == "run\n" and read("cache-count-after-ro").strip() == "1"
    assert read("seen-ctx") == "from-context\n" and read("copied") == "from-stage\n"
    assert read("tmpfs-ls") == "f\n"
    # a cache inside a cache: its mount point is made in the outer cache, each keeps its files
    assert read("nest-ls") == "g\nin\n" and read("inner-seen") == "i\n" and read("outer-ls") == "g\nin\n"
    # What was under each target is back, byte for byte; nothing of the mounts is in a layer.
    assert read("keep-after") == "orig\n" and read("data-after") == "keep\n"
    assert read("cache-after") == "seed\n" and read("var/cache/app/seed") == "c0\n"
    assert tree(root, "data") == {"data/keep": "orig\n"}
    for gone in ("run", "scratch", "mnt", "nest", "in2", "out2"):
        assert not (root / gone).exists(), gone


def test_the_secret_is_in_no_image_byte(images):
    _, out = images
    for layout, _, _ in out.values():
        for blob in (layout / "blobs" / "sha256").iterdir():
            data = blob.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            assert SECRET not in data, blob
