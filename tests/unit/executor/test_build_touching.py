"""Which layers can change a COPY --from's sources: decided from each layer's own entries."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mason.executor.touching import layers_touching, source_prefix, touches


@dataclass
class Ref:
    diff_id: str
    directory: Path | None


def test_source_prefix_stops_at_the_first_pattern():
    assert source_prefix("/gen") == ["gen"]
    assert source_prefix("gen/./a/../b") == ["gen", "b"]
    assert source_prefix("/opt/*/lib/x") == ["opt"]
    assert source_prefix("/a/b[12]") == ["a"]
    assert source_prefix("/") == [] and source_prefix("*.txt") == []


@pytest.mark.root
def test_what_counts_as_touching(tmp_path):
    layer = tmp_path / "layer"
    (layer / "gen" / "sub").mkdir(parents=True)
    (layer / "gen" / "sub" / "f").write_text("x")
    (layer / "file").write_text("x")
    (layer / "plain" / "inner").mkdir(parents=True)
    (layer / "opq").mkdir()
    os.setxattr(layer / "opq", "trusted.overlay.opaque", b"y")
    os.mknod(layer / "gone", 0o020000, os.makedev(0, 0))   # a whiteout
    os.symlink("usr/lib", layer / "lib")
    assert touches(layer, ["gen"]) is True                  # the source itself
    assert touches(layer, ["gen", "sub", "f"]) is True
    assert touches(layer, ["file", "below"]) is True        # a file replaces the directory
    assert touches(layer, ["gone", "x"]) is True            # a whiteout deletes it
    assert touches(layer, ["opq", "x"]) is True             # an opaque dir hides lower x
    assert touches(layer, ["plain", "other"]) is False      # a plain dir on the way only
    assert touches(layer, ["absent", "x"]) is False
    assert touches(layer, ["lib", "x"]) is None             # a symlink on the way: no answer
    assert touches(layer, []) is True


def test_layers_touching_keeps_order_and_gives_up_on_what_it_cannot_see(tmp_path):
    dirs = []
    for i, path in enumerate(["gen/a", "src/b", "gen/c"]):
        d = tmp_path / f"l{i}"
        (d / path).parent.mkdir(parents=True)
        (d / path).write_text(str(i))
        dirs.append(d)
    refs = [Ref(f"sha256:{i}", d) for i, d in enumerate(dirs)]
    assert layers_touching(refs, ["/gen"]) == ["sha256:0", "sha256:2"]
    assert layers_touching(refs, ["/gen", "src/b"]) == ["sha256:0", "sha256:1", "sha256:2"]
    assert layers_touching(refs, ["/other"]) == []
    assert layers_touching(refs + [Ref("sha256:3", None)], ["/gen"]) is None
