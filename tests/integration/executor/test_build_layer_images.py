"""Base layers as mounted EROFS images give the same image as base layers extracted into
directories, with whiteouts and opaque directories of the base honoured by the RUN steps;
the store holds one image file per layer, and nothing stays mounted."""

from __future__ import annotations

import json
from pathlib import Path

from mason.executor.events import Info
from mason.executor.layerstore import LayerStore
from mason.erofs.layout import Unrepresentable
from tests.integration.executor.buildhelpers import build, overlay_mounts_below, unpack, write_context
from tests.support.images import WHITEOUT_ABSENT, WHITEOUT_EXPECTED

DOCKERFILE = """\
FROM oci:{base} AS gen
RUN for p in {absent}; do test ! -e /$p || exit 1; done \\
 && test "$(cat /data/b/new)" = "new in layer 3" && ls /data/b > /data-b-listing \\
 && mkdir -p /gen && echo made > /gen/f && rm /data/a/y
COPY ctx.txt /gen/ctx.txt

FROM oci:{base}
COPY --from=gen /gen /gen
COPY --from=gen /data-b-listing /listing
RUN cat /gen/f /data/d/kept > /joined
"""


def test_images_and_directories_give_the_same_image(tmp_path, whiteout_layout):
    ctx = write_context(tmp_path / "ctx", DOCKERFILE.format(base=whiteout_layout, absent=" ".join(WHITEOUT_ABSENT)),
                        {"ctx.txt": "from the context\n"})
    digests = {}
    for images in (True, False):
        cache_dir = tmp_path / f"store-{images}"
        work = tmp_path / f"work-{images}"
        out = tmp_path / f"out-{images}"
        result, events = build(ctx, out, work, cache_dir=cache_dir, layer_images=images, reproducible=True)
        digests[images] = result.image_digest
        said = [e.message for e in events.of_type(Info) if e.message.startswith("work files: ")]
        lowers = "EROFS images" if images else "directories (disabled)"
        assert said == [f"work files: own ext4 scratch filesystem; lower layers: {lowers}"]
        stored = sorted(p.name for p in (cache_dir / "layers" / "sha256").iterdir() if not p.name.startswith("."))
        config = json.loads(result.config)
        base_layers = {d.split(":")[1] for d in config["rootfs"]["diff_ids"][:4]}
        if images:
            assert stored and all(name.endswith(".erofs") for name in stored)
            # the base's layers, and the direct COPY layers a later RUN or COPY --from needed whole
            assert base_layers <= {name.removesuffix(".erofs") for name in stored}
        else:
            assert stored and not any(name.endswith(".erofs") for name in stored)
        assert overlay_mounts_below(work) == [] and list(work.iterdir()) == []
        rootfs = unpack(out, tmp_path / f"unpacked-{images}")
        assert (rootfs / "joined").read_text() == "made\nkept\n"
        assert (rootfs / "listing").read_text() == "new\n"
        for path, content in WHITEOUT_EXPECTED.items():
            assert (rootfs / path).read_bytes() == content
    assert digests[True] == digests[False]


def test_a_layer_the_image_writer_cannot_encode_is_extracted(tmp_path):
    made = []

    def write_image(path: Path) -> None:
        path.write_bytes(b"partial")
        raise Unrepresentable("an xattr namespace EROFS does not store")

    def extract(directory: Path) -> None:
        (directory / "f").write_text("extracted")
        made.append(directory)

    mounts = tmp_path / "mounts"
    mounts.mkdir()
    store = LayerStore(tmp_path / "store", mounts=lambda: mounts)
    lower = store.lower("sha256:" + "a" * 64, extract, write_image)
    assert (lower / "f").read_text() == "extracted" and store.images()
    assert sorted(p.name for p in (tmp_path / "store" / "sha256").iterdir() if not p.name.startswith(".")) == ["a" * 64]
    assert not list((tmp_path / "store" / "sha256").glob("*.tmp-*"))
