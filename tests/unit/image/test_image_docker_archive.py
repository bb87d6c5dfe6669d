import io
import json
import tarfile

import pytest

from layoutfactory import BUSYBOX_FILES, make_tar, sha
from mason.errors import DigestMismatchError, ImageError
from mason.image.copy import copy
from mason.image.docker_archive import DockerArchiveSink, familiar_tag, open_docker_archive
from mason.image.layout import LayoutSink, open_layout
from mason.image.validate import validate
from mason.oci.platform import parse_platform


def write_docker_save(path, entries, files):
    """A legacy `docker save` tar: <id>/layer.tar dirs, <hex>.json config, manifest.json."""
    with tarfile.open(path, "w") as tar:
        for name, data in {**files, "manifest.json": json.dumps(entries).encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def legacy_archive(tmp_path, tags=("busybox:latest",), corrupt=False):
    layers = [make_tar(f) for f in BUSYBOX_FILES]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(l) for l in layers]}}).encode()
    files = {f"{sha(config)[7:]}.json": config}
    for i, l in enumerate(layers):
        files[f"layer{i}/layer.tar"] = l + (b"\0" * 512 if corrupt and i == 1 else b"")
        files[f"layer{i}/VERSION"] = b"1.0"
    path = tmp_path / "legacy.tar"
    write_docker_save(path, [{"Config": f"{sha(config)[7:]}.json", "RepoTags": list(tags),
                              "Layers": [f"layer{i}/layer.tar" for i in range(len(layers))]}], files)
    return path, layers


def test_reads_legacy_docker_save(tmp_path):
    path, layers = legacy_archive(tmp_path)
    img = open_docker_archive(path, "busybox")
    assert [l.digest for l in img.layers] == [sha(l) for l in layers]
    assert all(l.compression is None and l.diff_id == l.digest for l in img.layers)
    assert img.config.runtime["Cmd"] == ["sh"]
    validate(img)
    assert open_docker_archive(path, "docker.io/library/busybox:latest").digest == img.digest


def test_layer_not_matching_diff_id_is_refused(tmp_path):
    path, _ = legacy_archive(tmp_path, corrupt=True)
    with pytest.raises(DigestMismatchError, match="layer1/layer.tar hashes to .* diff_id"):
        open_docker_archive(path)


def test_unknown_tag_lists_available(tmp_path):
    path, _ = legacy_archive(tmp_path, tags=("a:1", "b:2"))
    with pytest.raises(ImageError, match="no image tagged 'c'; available: a:1, b:2"):
        open_docker_archive(path, "c")


@pytest.mark.parametrize("content,message", [
    (None, "no such file"), (b"not a tar at all" * 100, "not a tar archive|no manifest.json"),
])
def test_bad_archives(tmp_path, content, message):
    path = tmp_path / "x.tar"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        open_docker_archive(path)


def test_invalid_manifest_json(tmp_path):
    path = tmp_path / "bad.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"{oops"))
    with pytest.raises(ImageError, match="manifest.json is not valid JSON"):
        open_docker_archive(path)


def test_round_trip_keeps_manifest_digest_and_compressed_blobs(simple_layout, tmp_path):
    root, b, desc = simple_layout
    img = open_layout(root, "latest")
    out = tmp_path / "img.tar"
    copy(img, DockerArchiveSink(out, "localhost:5000/my/img:v1"))
    with tarfile.open(out) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest == [{"Config": "blobs/sha256/" + img.config_descriptor.digest[7:],
                         "RepoTags": ["localhost:5000/my/img:v1"],
                         "Layers": ["blobs/sha256/" + l.digest[7:] for l in img.layers]}]
    assert "oci-layout" in names and "index.json" in names
    back = open_docker_archive(out, "localhost:5000/my/img:v1")
    assert back.manifest_bytes == img.manifest_bytes and back.digest == desc["digest"]
    validate(back)
    copy(back, LayoutSink(tmp_path / "again", "x"))
    assert open_layout(tmp_path / "again", "x").digest == desc["digest"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".img.tar.tmp")]


def test_index_narrowed_to_one_platform(multi_layout, tmp_path):
    root, b, idx, amd, arm = multi_layout
    out = tmp_path / "arm.tar"
    copy(open_layout(root, "multi"), DockerArchiveSink(out), platform=parse_platform("linux/arm64"))
    assert open_docker_archive(out).digest == arm["digest"]
    with pytest.raises(ImageError, match="single-platform images only"):
        copy(open_layout(root, "multi"), DockerArchiveSink(tmp_path / "all.tar"), all_platforms=True)
    assert not (tmp_path / "all.tar").exists()


def test_failed_write_leaves_nothing(simple_layout, tmp_path):
    root, b, desc = simple_layout
    img = open_layout(root)
    path = b.blob_path(img.layers[0].digest)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with pytest.raises(DigestMismatchError):
        copy(img, DockerArchiveSink(tmp_path / "x.tar", "a:b"))
    assert not (tmp_path / "x.tar").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".x.tar")]


@pytest.mark.parametrize("given,expected", [
    ("busybox", "busybox:latest"), ("docker.io/library/busybox:1", "busybox:1"),
    ("localhost:5000/a/b", "localhost:5000/a/b:latest"), ("localhost:5000/a/b:t", "localhost:5000/a/b:t"),
])
def test_familiar_tag(given, expected):
    assert familiar_tag(given) == expected
