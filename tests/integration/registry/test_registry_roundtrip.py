"""The client against the real distribution registry, in all three variants."""

import hashlib
import io
import json
import os
import uuid

import pytest

from mason.errors import NotFoundError
from mason.oci.reference import parse_reference
from tests.support.images import run
from tests.support.registry import client_for

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def blob(data: bytes) -> tuple[bytes, str]:
    return data, "sha256:" + hashlib.sha256(data).hexdigest()


def unique_repo(server, prefix="test"):
    return parse_reference(f"{server.host}/{prefix}/{uuid.uuid4().hex[:10]}")


def skopeo_auth(server):
    args = ["--tls-verify=false"]
    if server.username:
        args += ["--creds", f"{server.username}:{server.password}"]
    return args


@pytest.mark.parametrize("chunk_size", [None, 1000, 4096])
def test_blob_and_manifest_round_trip(any_registry, chunk_size, tmp_path):
    client = client_for(any_registry)
    repo = unique_repo(any_registry)
    layer, layer_digest = blob(os.urandom(10_000))
    config, config_digest = blob(json.dumps({"architecture": "amd64", "os": "linux",
                                             "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode())
    assert client.blob_size(repo, layer_digest) is None
    client.upload_blob(repo, layer_digest, len(layer), lambda: io.BytesIO(layer), chunk_size=chunk_size)
    client.upload_blob(repo, config_digest, len(config), config)
    assert client.blob_size(repo, layer_digest) == len(layer)
    with client.open_blob(repo, layer_digest, len(layer)) as f:
        assert f.read() == layer
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}]}).encode()
    ref = repo.with_tag("v1")
    digest = client.put_manifest(ref, manifest, OCI_MANIFEST)
    assert digest == "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert client.get_manifest(ref, [OCI_MANIFEST]) == (manifest, OCI_MANIFEST, digest)
    assert client.get_manifest(repo.with_digest(digest), [OCI_MANIFEST])[2] == digest
    assert client.head_manifest(ref, [OCI_MANIFEST]) == (digest, OCI_MANIFEST, len(manifest))
    client.put_manifest(repo.with_tag("v2"), manifest, OCI_MANIFEST)
    assert sorted(client.list_tags(repo)) == ["v1", "v2"]
    # an independent client agrees on what was pushed
    raw = run("skopeo", "inspect", "--raw", *skopeo_auth(any_registry), f"docker://{ref}")
    assert raw.encode() == manifest
    out = tmp_path / "oci"
    run("skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--dest-oci-accept-uncompressed-layers",
        *(["--src-creds", f"{any_registry.username}:{any_registry.password}"] if any_registry.username else []),
        f"docker://{ref}", f"oci:{out}:v1")
    assert (out / "blobs" / "sha256" / layer_digest.split(":")[1]).read_bytes() == layer


def test_mount_and_refused_mount_fallback(any_registry):
    client = client_for(any_registry)
    src, dst = unique_repo(any_registry, "src"), unique_repo(any_registry, "dst")
    data, digest = blob(os.urandom(5000))
    client.upload_blob(src, digest, len(data), data)
    assert client.mount_blob(dst, digest, src) is True
    assert client.blob_size(dst, digest) == len(data)
    # the source repository does not have this blob: the registry refuses (202), the caller uploads
    other, other_digest = blob(os.urandom(3000))
    target = unique_repo(any_registry, "dst")
    assert client.mount_blob(target, other_digest, unique_repo(any_registry, "empty")) is False
    assert client.blob_size(target, other_digest) is None
    client.upload_blob(target, other_digest, len(other), other)
    assert client.blob_size(target, other_digest) == len(other)


def test_missing_things(any_registry):
    client = client_for(any_registry)
    repo = unique_repo(any_registry)
    assert client.head_manifest(repo.with_tag("nope"), [OCI_MANIFEST]) is None
    with pytest.raises(NotFoundError) as info:
        client.get_manifest(repo.with_tag("nope"), [OCI_MANIFEST])
    assert set(info.value.codes) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}
    assert any_registry.host in str(info.value)
    with pytest.raises(NotFoundError):
        client.open_blob(repo, "sha256:" + "0" * 64)
    with pytest.raises(NotFoundError):
        client.list_tags(repo)


def test_fixture_images_are_readable_by_the_client(registry_plain, busybox_layout, multiplatform_layout,
                                                   whiteout_layout):
    from tests.support.images import push_layout

    client = client_for(registry_plain)
    accept = ["application/vnd.oci.image.index.v1+json", OCI_MANIFEST]
    repo = unique_repo(registry_plain, "fixtures")
    push_layout(multiplatform_layout, f"{repo.name}:multi", all_platforms=True)
    data, media_type, _ = client.get_manifest(repo.with_tag("multi"), accept)
    index = json.loads(data)
    assert media_type == "application/vnd.oci.image.index.v1+json"
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]
    for descriptor in index["manifests"]:
        manifest, _, digest = client.get_manifest(repo.with_digest(descriptor["digest"]), accept)
        assert digest == descriptor["digest"]
        for layer in json.loads(manifest)["layers"]:
            with client.open_blob(repo, layer["digest"], layer["size"]) as f:
                assert len(f.read()) == layer["size"]
    push_layout(whiteout_layout, f"{repo.name}:whiteout")
    manifest = json.loads(client.get_manifest(repo.with_tag("whiteout"), accept)[0])
    assert len(manifest["layers"]) == 4
    push_layout(busybox_layout, f"{repo.name}:busybox")
    assert client.head_manifest(repo.with_tag("busybox"), accept) is not None


def test_one_client_shared_by_concurrent_transfers(registry_token):
    from concurrent.futures import ThreadPoolExecutor

    client = client_for(registry_token)
    repo = unique_repo(registry_token, "concurrent")
    blobs = [blob(os.urandom(50_000 + i)) for i in range(12)]
    before = len(registry_token.issuer.requests)

    def round_trip(item):
        data, digest = item
        client.upload_blob(repo, digest, len(data), data, chunk_size=20_000)
        with client.open_blob(repo, digest, len(data)) as f:
            return f.read() == data

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert all(pool.map(round_trip, blobs))
    # tokens are shared per scope, not fetched per request (a few racing first fetches are fine)
    assert len(registry_token.issuer.requests) - before <= 14
