import json
import os

import pytest

from layoutfactory import BUSYBOX_FILES, LayoutBuilder, sha
from mason.errors import DigestMismatchError, ImageError
from mason.image.copy import copy
from mason.image.layout import LayoutSink, open_layout
from mason.image.memory import scratch_image
from mason.image.validate import validate
from mason.image.view import Image, ImageIndex
from mason.oci.platform import parse_platform


def test_reads_image_with_exact_bytes(simple_layout):
    root, b, desc = simple_layout
    img = open_layout(root, "latest")
    assert isinstance(img, Image)
    assert img.digest == desc["digest"]
    assert img.manifest_bytes == b.blob_path(desc["digest"]).read_bytes()
    assert [l.diff_id for l in img.layers] == list(img.config.diff_ids)
    assert img.layers[0].compression == "gzip"
    assert img.config.runtime["Cmd"] == ["/bin/sh"]
    validate(img)
    # the only entry is chosen without a ref too
    assert open_layout(root).digest == desc["digest"]


def test_layer_open_uncompressed_is_the_tar(simple_layout):
    import tarfile

    img = open_layout(simple_layout[0], "latest")
    with img.layers[0].open_uncompressed() as f, tarfile.open(fileobj=f, mode="r|") as tar:
        assert [m.name for m in tar] == ["bin/hello", "etc/passwd"]


def test_unknown_ref_lists_available(simple_layout):
    with pytest.raises(ImageError, match="no image named 'nope'; available: latest"):
        open_layout(simple_layout[0], "nope")


def test_not_a_layout(tmp_path):
    with pytest.raises(ImageError, match="no oci-layout file"):
        open_layout(tmp_path)


def test_corrupted_layer_is_refused(simple_layout):
    root, b, desc = simple_layout
    img = open_layout(root, "latest")
    path = b.blob_path(img.layers[1].digest)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match="content hashes to"):
        validate(open_layout(root, "latest"), check_diff_ids=False)
    with pytest.raises(DigestMismatchError):
        with img.layers[1].open() as f:
            f.read()
    # and copying it anywhere is refused, leaving no blob behind under its digest
    out = root.parent / "out"
    with pytest.raises(DigestMismatchError):
        copy(open_layout(root, "latest"), LayoutSink(out, "x"))
    assert not (out / "blobs" / "sha256" / img.layers[1].digest.split(":")[1]).exists()
    assert json.loads((out / "index.json").read_text())["manifests"] == []


def test_corrupted_config_and_manifest_refused(simple_layout):
    root, b, desc = simple_layout
    img = open_layout(root, "latest")
    b.blob_path(img.config_descriptor.digest).write_bytes(img.config_bytes + b" ")
    with pytest.raises(DigestMismatchError, match="config"):
        open_layout(root, "latest")
    b.blob_path(desc["digest"]).write_bytes(img.manifest_bytes.replace(b"2", b"3", 1))
    with pytest.raises(DigestMismatchError, match="manifest"):
        open_layout(root, "latest")


def test_size_disagreeing_with_descriptor(tmp_path):
    b = LayoutBuilder(tmp_path / "l")
    desc = b.image(BUSYBOX_FILES)
    b.tag(dict(desc, size=desc["size"] + 1), "x")
    with pytest.raises(DigestMismatchError, match="size .* does not match"):
        open_layout(b.root, "x")


def test_index_pointing_at_itself(tmp_path):
    b = LayoutBuilder(tmp_path / "l")
    # a blob stored under digest D whose body is an index listing D: the digest check stops it
    fake = "sha256:" + "ab" * 32
    raw = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                     "digest": fake, "size": 300}]}).encode()
    b.blob_path(fake).write_bytes(raw)
    b.tag({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": fake, "size": len(raw)}, "loop")
    with pytest.raises(ImageError, match="hashes to|points at the index itself"):
        open_layout(b.root, "loop")


def test_wrong_media_type_in_descriptor(simple_layout):
    root, b, desc = simple_layout
    b.tag(dict(desc, mediaType="application/vnd.docker.distribution.manifest.v2+json"), "wrong")
    with pytest.raises(ImageError, match="served as"):
        open_layout(root, "wrong")


def test_index_and_platform_selection(multi_layout):
    root, b, idx, amd, arm = multi_layout
    view = open_layout(root, "multi")
    assert isinstance(view, ImageIndex) and view.digest == idx["digest"]
    assert [str(p) for p in view.platforms()] == ["linux/amd64", "linux/arm64/v8"]
    assert view.select(parse_platform("linux/aarch64")).digest == arm["digest"]
    assert view.select(parse_platform("linux/amd64")).digest == amd["digest"]
    with pytest.raises(ImageError, match="no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8"):
        view.select(parse_platform("linux/s390x"))
    validate(view)


def test_layout_round_trip_keeps_digests(multi_layout, tmp_path):
    root, b, idx, amd, arm = multi_layout
    result = copy(open_layout(root, "multi"), LayoutSink(tmp_path / "copy", "v1"))
    assert result.descriptor.digest == idx["digest"]
    again = open_layout(tmp_path / "copy", "v1")
    assert again.manifest_bytes == open_layout(root, "multi").manifest_bytes
    validate(again)
    # a second copy skips every blob and a second ref is added beside the first
    result = copy(open_layout(root, "multi"), LayoutSink(tmp_path / "copy", "v2"))
    assert result.blobs_copied == [] and len(result.blobs_skipped) == 5  # 2 configs + 3 layers
    refs = [m["annotations"]["org.opencontainers.image.ref.name"]
            for m in json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"]]
    assert refs == ["v1", "v2"]
    # overwrite a ref: replaced, not duplicated
    copy(open_layout(root, "multi"), LayoutSink(tmp_path / "copy", "v1"), platform=parse_platform("linux/arm64"))
    entries = json.loads((tmp_path / "copy" / "index.json").read_text())["manifests"]
    assert [(e["annotations"]["org.opencontainers.image.ref.name"], e["digest"]) for e in entries] == \
        [("v2", idx["digest"]), ("v1", arm["digest"])]


def test_sink_refuses_non_layout_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "file").write_text("x")
    with pytest.raises(ImageError, match="not empty and not an OCI layout"):
        LayoutSink(tmp_path / "d", "x")


def test_blob_files_are_readable_and_no_temp_files_left(simple_layout, tmp_path):
    copy(open_layout(simple_layout[0]), LayoutSink(tmp_path / "o", "t"))
    names = os.listdir(tmp_path / "o" / "blobs" / "sha256")
    assert names and not any(n.startswith(".tmp") for n in names)
    assert all(os.stat(tmp_path / "o" / "blobs" / "sha256" / n).st_mode & 0o044 for n in names)


def test_scratch_is_deterministic_and_copyable(tmp_path):
    a, b = scratch_image(parse_platform("linux/arm64")), scratch_image(parse_platform("linux/arm64"))
    assert a.digest == b.digest and a.layers == () and a.config.platform.architecture == "arm64"
    copy(a, LayoutSink(tmp_path / "s", "scratch"))
    assert open_layout(tmp_path / "s", "scratch").digest == a.digest


def test_zstd_and_uncompressed_layers_validate(tmp_path):
    b = LayoutBuilder(tmp_path / "z")
    b.tag(b.image(BUSYBOX_FILES, compression="zstd"), "z")
    b.tag(b.image(BUSYBOX_FILES, compression=None), "u")
    validate(open_layout(b.root, "z"))
    validate(open_layout(b.root, "u"))


def test_wrong_diff_id_detected(tmp_path):
    b = LayoutBuilder(tmp_path / "d")
    desc = b.image(BUSYBOX_FILES)
    b.tag(desc, "x")
    img = open_layout(b.root, "x")
    config = json.loads(img.config_bytes)
    config["rootfs"]["diff_ids"][0] = sha(b"something else")
    raw_config = json.dumps(config).encode()
    manifest = json.loads(img.manifest_bytes)
    manifest["config"].update(digest=b.blob(raw_config), size=len(raw_config))
    raw = json.dumps(manifest).encode()
    b.tag({"mediaType": desc["mediaType"], "digest": b.blob(raw), "size": len(raw)}, "bad")
    with pytest.raises(DigestMismatchError, match="diff_id"):
        validate(open_layout(b.root, "bad"))
