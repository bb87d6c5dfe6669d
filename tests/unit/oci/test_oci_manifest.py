import hashlib
import json

import pytest

from mason.errors import ImageError, NotSupportedError
from mason.oci import mediatypes as mt
from mason.oci.config import ImageConfig, parse_config
from mason.oci.descriptor import Descriptor
from mason.oci.manifest import Index, Manifest, canonical_json, parse_manifest


def d(data=b"x", media=mt.OCI_LAYER_GZIP):
    return {"mediaType": media, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


CONFIG = d(b"{}", mt.OCI_CONFIG)


def test_raw_bytes_are_kept_exactly():
    raw = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG, "layers": [d()]},
                     indent=7).encode()
    m = parse_manifest(raw, mt.OCI_MANIFEST)
    assert isinstance(m, Manifest) and m.raw == raw
    assert m.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert m.layers[0].media_type == mt.OCI_LAYER_GZIP


def test_new_manifests_are_canonical():
    m = Manifest.build(Descriptor.from_dict(CONFIG), [Descriptor.from_dict(d())])
    assert m.raw == canonical_json(json.loads(m.raw))
    assert b" " not in m.raw


def test_media_type_inferred_when_absent_and_docker_types():
    raw = json.dumps({"schemaVersion": 2, "config": CONFIG, "layers": []}).encode()
    assert parse_manifest(raw).media_type == mt.OCI_MANIFEST
    raw = json.dumps({"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": [
        dict(d(b"m", mt.DOCKER_MANIFEST), platform={"os": "linux", "architecture": "amd64"})]}).encode()
    idx = parse_manifest(raw, mt.DOCKER_MANIFEST_LIST)
    assert isinstance(idx, Index) and str(idx.manifests[0].platform) == "linux/amd64"


@pytest.mark.parametrize("body", [
    {"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []},
    {"schemaVersion": 1, "mediaType": mt.DOCKER_SCHEMA1_SIGNED},
])
def test_schema1_refused_clearly(body):
    with pytest.raises(NotSupportedError, match="schema 1 manifests .* are not supported"):
        parse_manifest(json.dumps(body).encode())


def test_schema1_media_type_header_refused():
    with pytest.raises(NotSupportedError, match="schema 1"):
        parse_manifest(b'{"schemaVersion": 2, "config": {}}', mt.DOCKER_SCHEMA1_SIGNED)


@pytest.mark.parametrize("raw,declared,message", [
    (b"{not json", None, "invalid JSON"),
    (b"[]", None, "expected a JSON object"),
    (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG, "layers": []}).encode(),
     mt.DOCKER_MANIFEST, "served as"),
    (json.dumps({"schemaVersion": 2, "mediaType": "text/plain"}).encode(), None, "unsupported manifest media type"),
    (json.dumps({"schemaVersion": 3, "config": CONFIG}).encode(), None, "schemaVersion must be 2"),
    (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "layers": []}).encode(), None, "needs a 'config'"),
    (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG,
                 "layers": [d(b"x", "text/html")]}).encode(), None, "unsupported media type 'text/html'"),
    (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG,
                 "layers": [{"mediaType": mt.OCI_LAYER, "digest": "sha256:abc", "size": 1}]}).encode(),
     None, r"layers\[0\].*invalid digest"),
    (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG,
                 "layers": [dict(d(), size=-1)]}).encode(), None, "invalid size"),
    (json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": {}}).encode(), None, "'manifests' list"),
])
def test_invalid_manifests_give_clear_image_errors(raw, declared, message):
    with pytest.raises(ImageError, match=message):
        parse_manifest(raw, declared, "test")


def test_descriptor_round_trip_keeps_unknown_fields():
    data = {"mediaType": mt.OCI_MANIFEST, "digest": d()["digest"], "size": 1, "urls": ["https://x"],
            "annotations": {"a": "b"}, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            "artifactType": "application/x"}
    assert Descriptor.from_dict(data).to_dict() == data


def test_config_parsing_and_summary():
    raw = json.dumps({"architecture": "arm64", "os": "linux", "variant": "v8",
                      "config": {"Env": ["A=1"], "Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": [d()["digest"]]}}).encode()
    c = parse_config(raw)
    assert c.raw == raw and c.diff_ids == (d()["digest"],)
    assert c.summary() == {"platform": "linux/arm64/v8", "env": ["A=1"], "cmd": ["sh"]}
    assert ImageConfig.build(c.data).raw == canonical_json(c.data)


@pytest.mark.parametrize("body,message", [
    ({"os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}, "missing 'architecture'"),
    ({"os": "linux", "architecture": "amd64"}, "rootfs must be"),
    ({"os": "linux", "architecture": "amd64", "rootfs": {"type": "layers", "diff_ids": ["nope"]}},
     r"diff_ids\[0\]"),
])
def test_invalid_configs(body, message):
    with pytest.raises(ImageError, match=message):
        parse_config(json.dumps(body).encode())


def test_layer_compression_by_media_type():
    assert mt.layer_compression(mt.DOCKER_LAYER_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.OCI_LAYER) is None
    assert mt.is_foreign(mt.DOCKER_LAYER_FOREIGN)
    with pytest.raises(ImageError):
        mt.layer_compression("application/octet-stream")
