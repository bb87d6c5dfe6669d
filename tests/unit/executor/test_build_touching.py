"""Which layers can change a COPY --from's sources: decided from each layer's own entries."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from mason.executor.touching import HeaderIndex, layers_touching, source_prefix, touches


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


QUERIES = [["gen"], ["gen", "sub", "f"], ["gen", "sub", "other"], ["file", "below"], ["gone", "x"],
           ["gone"], ["opq", "x"], ["plain", "other"], ["plain"], ["absent", "x"], ["lib", "x"],
           ["implicit", "deep"], ["implicit", "elsewhere"], []]


def _layer_tar() -> bytes:
    import tarfile

    from tests.unit.tarfs.tarfs_helpers import make_tar, member

    return make_tar([member("gen/", tarfile.DIRTYPE), member("gen/sub/", tarfile.DIRTYPE),
                     member("gen/sub/f", data=b"x"), member("file", data=b"x"),
                     member("plain/", tarfile.DIRTYPE), member("plain/inner/", tarfile.DIRTYPE),
                     member("opq/", tarfile.DIRTYPE), member("opq/.wh..wh..opq"), member(".wh.gone"),
                     member("lib", tarfile.SYMTYPE, linkname="usr/lib"),
                     member("implicit/deep/f", data=b"no parent entries")])


def _headers(tar: bytes):
    import io

    from mason.tarfs.reader import open_tar_stream

    with open_tar_stream(io.BytesIO(tar), "test") as stream:
        return list(stream.members())


def test_a_layers_headers_answer_as_its_lower_dir_would():
    index = HeaderIndex(_headers(_layer_tar()))
    answers = {tuple(q): index.touches(q) for q in QUERIES}
    assert answers == {("gen",): True, ("gen", "sub", "f"): True, ("gen", "sub", "other"): False,
                       ("file", "below"): True, ("gone", "x"): True, ("gone",): True, ("opq", "x"): True,
                       ("plain", "other"): False, ("plain",): True, ("absent", "x"): False,
                       ("lib", "x"): None, ("implicit", "deep"): True, ("implicit", "elsewhere"): False,
                       (): True}


@pytest.mark.root
def test_headers_and_the_extracted_lower_dir_agree(tmp_path):
    import io

    from mason.tarfs.extract import ExtractOptions, extract_layer

    tar = _layer_tar()
    lower = tmp_path / "lower"
    extract_layer(io.BytesIO(tar), lower, options=ExtractOptions(mode="overlay"))
    index = HeaderIndex(_headers(tar))
    for query in QUERIES:
        assert index.touches(query) == touches(lower, query), query


def test_a_layer_without_a_directory_is_judged_by_its_headers_or_not_at_all():
    indexes = {"sha256:0": HeaderIndex(_headers(_layer_tar()))}
    refs = [Ref("sha256:0", None), Ref("sha256:1", None)]
    assert layers_touching(refs[:1], ["/gen"], index=lambda ref: indexes.get(ref.diff_id)) == ["sha256:0"]
    assert layers_touching(refs[:1], ["/plain/x"], index=lambda ref: indexes.get(ref.diff_id)) == []
    assert layers_touching(refs, ["/gen"], index=lambda ref: indexes.get(ref.diff_id)) is None
    assert layers_touching(refs[:1], ["/gen"]) is None
