"""A broken or hostile base layer is the FROM line's error, naming the layer and the image.

Whichever step first needs the base's files (the first RUN, a COPY into the walk root or a
skeleton, ``--single-snapshot``), the error reads ``Dockerfile:1: FROM <base>: layer sha256:…
of <base>@sha256:…: <what is wrong>``, and the JSON error line's ``location`` is the FROM's
lines, as for any other located error. A step's own layers are not base layers: their errors
stay where they are.
"""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from tests.reliability.hostilecases import layer_tar, member
from tests.reliability.relhelpers import (OCI_LAYER_GZ, assert_no_traceback, cli_env, mason, text, work_dirs,
                                          write_layout)

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _hostile_layout(tmp_path):
    import gzip

    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    good = [member("bin", tarfile.DIRTYPE, mode=0o755), member("bin/busybox", data=busybox, mode=0o755),
            member("bin/sh", tarfile.SYMTYPE, linkname="busybox"), member("d", tarfile.DIRTYPE, mode=0o755)]
    bad = [member("etc", tarfile.DIRTYPE, mode=0o755), member("h", tarfile.LNKTYPE, linkname="/etc/shadow")]
    layers = []
    for members in (good, bad):
        tar = layer_tar(members, "/nowhere")
        layers.append((gzip.compress(tar, mtime=0), tar, OCI_LAYER_GZ))
    layout = write_layout(tmp_path / "layout", layers)
    index = json.loads((layout / "index.json").read_text())
    image_digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs/sha256" / image_digest.split(":")[1]).read_text())
    return layout, image_digest, manifest["layers"][1]["digest"]


def _build(tmp_path, dockerfile: str, *extra: str):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "f").write_text("f\n")
    (ctx / "Dockerfile").write_text(dockerfile)
    proc = mason("build", "--context", str(ctx), "--no-push", "--work-dir", str(tmp_path / "work"),
                 "--cache-dir", str(tmp_path / "cache"), *extra, env=cli_env(), timeout=240)
    assert_no_traceback(proc)
    assert work_dirs(tmp_path / "work") == []
    return proc, ctx / "Dockerfile"


STEPS = {
    "first RUN": "RUN echo ran > /ran\n",
    "COPY": "COPY f /d/f\n",
    "single snapshot": "COPY f /d/f\nCOPY f /d/g\n",
}


@pytest.mark.parametrize("isolation", ["namespaces", "chroot"])
@pytest.mark.parametrize("step", sorted(STEPS))
def test_the_error_is_the_from_lines_and_names_layer_and_image(tmp_path, step, isolation):
    layout, image_digest, layer_digest = _hostile_layout(tmp_path)
    extra = ["--single-snapshot"] if step == "single snapshot" else []
    proc, dockerfile = _build(tmp_path, f"FROM oci:{layout}\n" + STEPS[step], f"--isolation={isolation}", *extra)
    out = text(proc)
    assert proc.returncode == 1, out[-3000:]
    error = next(line for line in out.splitlines() if line.startswith("ERRO"))
    assert f"{dockerfile}:1: FROM oci:{layout}: layer {layer_digest} of oci:{layout}@{image_digest}: " \
           f"entry 'h': hardlink to absolute name '/etc/shadow' refused" in error, error
    assert f"{dockerfile}:2" not in error and "<stream>" not in error, error


def test_the_json_error_line_locates_the_from(tmp_path):
    layout, image_digest, layer_digest = _hostile_layout(tmp_path)
    proc, dockerfile = _build(tmp_path, f"# a comment\n\nFROM oci:{layout}\nRUN echo ran\n", "--log-format=json")
    assert proc.returncode == 1, text(proc)[-3000:]
    records = [json.loads(line) for line in proc.stderr.decode().splitlines() if line.startswith("{")]
    error = [r for r in records if r["level"] == "error"][-1]
    assert error["location"] == {"file": str(dockerfile), "start_line": 3, "end_line": 3}, error
    assert error["error"] == "LayerError" and error["hint"] == "hardlink targets are member names relative " \
        "to the layer root", error
    assert layer_digest in error["msg"] and image_digest in error["msg"], error
