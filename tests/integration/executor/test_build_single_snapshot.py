"""``--single-snapshot``: the final stage's RUN/COPY/ADD/WORKDIR changes become one layer on
top of the base's, with the same filesystem as the step-by-step image (umoci unpacks both)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.executor.buildhelpers import build, config_of, tree, unpack, write_context

pytestmark = pytest.mark.integration


def manifest_layers(layout) -> list[str]:
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:latest"], check=True,
                         capture_output=True, text=True).stdout
    return [layer["digest"] for layer in json.loads(raw)["layers"]]


@pytest.mark.parametrize("mode", ["overlay", "walk"])
def test_final_stage_is_one_layer_with_the_same_files(tmp_path, busybox_layout, mode):
    base = f"oci:{busybox_layout}:latest"
    dockerfile = (f"FROM {base} AS b\nRUN mkdir /o && echo built > /o/f\n"
                  f"FROM {base}\nCOPY a.txt /app/a.txt\nENV GREETING=hi\n"
                  "RUN echo $GREETING > /app/run.txt && rm /app/a.txt && rm /bin/vi && mkdir -p /app/sub\n"
                  "WORKDIR /newdir\nCOPY --from=b /o /o\nCOPY d /app/sub/\nCMD [\"/bin/sh\"]\n")
    ctx = write_context(tmp_path / "ctx", dockerfile, {"a.txt": "a\n", "d/y.txt": "y\n"})
    layered, _ = build(ctx, tmp_path / "layered", tmp_path / "w1", snapshot_mode=mode)
    single, events = build(ctx, tmp_path / "single", tmp_path / "w2", snapshot_mode=mode, single_snapshot=True)
    base_layers = manifest_layers(busybox_layout)
    assert len(manifest_layers(tmp_path / "layered")) > len(base_layers) + 1
    layers = manifest_layers(tmp_path / "single")
    assert layers[:len(base_layers)] == base_layers
    assert len(layers) == len(base_layers) + 1
    config = config_of(tmp_path / "single")
    assert len(config["rootfs"]["diff_ids"]) == len(layers)
    assert len([h for h in config["history"] if not h.get("empty_layer")]) == len(layers)
    assert config["config"]["Env"] == config_of(tmp_path / "layered")["config"]["Env"]
    assert config["config"]["WorkingDir"] == "/newdir"
    one = unpack(tmp_path / "layered", tmp_path / "u1")
    two = unpack(tmp_path / "single", tmp_path / "u2")
    for below in ("app", "o", "newdir"):
        assert tree(two, below) == tree(one, below), below
    assert sorted(os.listdir(two / "bin")) == sorted(os.listdir(one / "bin"))
    assert (two / "app/run.txt").read_text() == "hi\n"
    assert not (two / "app/a.txt").exists() and not (two / "bin/vi").exists()
    assert any("--single-snapshot" in getattr(e, "message", "") for e in events.events)


def test_one_layer_step_stays_as_it_is(tmp_path, busybox_layout):
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{busybox_layout}:latest\nCOPY a.txt /a.txt\nLABEL x=y\n",
                        {"a.txt": "a\n"})
    layered, _ = build(ctx, tmp_path / "l", tmp_path / "w1", reproducible=True)
    single, _ = build(ctx, tmp_path / "s", tmp_path / "w2", reproducible=True, single_snapshot=True)
    assert single.image_digest == layered.image_digest
