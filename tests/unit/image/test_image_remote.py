import json

import pytest

from fakeregistry import FakeClient, Ref
from mason.errors import DigestMismatchError, ImageError, NotSupportedError
from mason.image.copy import copy
from mason.image.layout import LayoutSink, open_layout
from mason.image.remote import RemoteSink, open_remote
from mason.image.validate import validate
from mason.image.view import ImageIndex
from mason.oci.platform import parse_platform

SRC = Ref("reg.example:5000", "team/app", "v1")


def push(client, layout_root, ref, name=None):
    return copy(open_layout(layout_root, name), RemoteSink(client, ref))


def test_push_then_pull_keeps_digests(multi_layout, tmp_path):
    root, b, idx, amd, arm = multi_layout
    client = FakeClient()
    result = push(client, root, SRC)
    assert result.descriptor.digest == idx["digest"]
    # manifests after their blobs, children by digest, the tagged index last
    puts = [c for c in client.calls if c[0] == "put_manifest"]
    assert puts[-1] == ("put_manifest", "reg.example:5000/team/app:v1")
    assert all("@sha256:" in c[1] for c in puts[:-1]) and len(puts) == 3
    # every manifest is pushed only after all the blobs it names are present
    for i, call in enumerate(client.calls):
        if call[0] == "put_manifest":
            raw, _ = client.manifests[(SRC.name, call[1].rsplit("@", 1)[-1].rsplit(":", 1)[-1]
                                       if "@" not in call[1] else call[1].rsplit("@", 1)[1])]
            body = json.loads(raw)
            named = [d["digest"] for d in [body.get("config")] + body.get("layers", []) if d]
            named += [d["digest"] for d in body.get("manifests", [])]
            done = {c[2] for c in client.calls[:i] if c[0] == "upload_blob"}
            done |= {c[1].rsplit("@", 1)[1] for c in client.calls[:i] if c[0] == "put_manifest" and "@" in c[1]}
            assert set(named) <= done, call
    view = open_remote(client, SRC)
    assert isinstance(view, ImageIndex) and view.digest == idx["digest"]
    validate(view)
    copy(view, LayoutSink(tmp_path / "pulled", "p"))
    assert open_layout(tmp_path / "pulled", "p").manifest_bytes == open_layout(root, "multi").manifest_bytes


def test_existing_blobs_are_skipped(simple_layout):
    client = FakeClient()
    push(client, simple_layout[0], SRC)
    client.calls.clear()
    result = push(client, simple_layout[0], SRC.with_tag("v2"))
    assert result.blobs_copied == [] and not [c for c in client.calls if c[0] == "upload_blob"]


def test_same_registry_copy_mounts_and_falls_back(simple_layout):
    client = FakeClient()
    push(client, simple_layout[0], SRC)
    dest = Ref("reg.example:5000", "other/app", "x")
    client.calls.clear()
    copy(open_remote(client, SRC), RemoteSink(client, dest))
    assert [c[0] for c in client.calls].count("mount_blob") == 3
    assert not [c for c in client.calls if c[0] == "upload_blob"]
    # refused mounts: upload instead, streamed from the source
    refusing = FakeClient(refuse_mounts=True)
    push(refusing, simple_layout[0], SRC)
    refusing.calls.clear()
    copy(open_remote(refusing, SRC), RemoteSink(refusing, dest))
    assert [c[0] for c in refusing.calls].count("upload_blob") == 3
    validate(open_remote(refusing, dest))


def test_no_mount_across_registries(simple_layout):
    client = FakeClient()
    push(client, simple_layout[0], SRC)
    client.calls.clear()
    copy(open_remote(client, SRC), RemoteSink(client, Ref("elsewhere.example", "team/app", "v1")))
    assert not [c for c in client.calls if c[0] == "mount_blob"]


def test_corrupted_blob_from_registry_is_refused(simple_layout, tmp_path):
    client = FakeClient()
    push(client, simple_layout[0], SRC)
    img = open_remote(client, SRC)
    client.corrupt.add(img.layers[0].digest)
    with pytest.raises(DigestMismatchError, match="content hashes to"):
        copy(img, LayoutSink(tmp_path / "o", "x"))
    with pytest.raises(DigestMismatchError):
        validate(img)


def test_manifest_not_matching_pinned_digest(simple_layout):
    client = FakeClient()
    push(client, simple_layout[0], SRC)
    raw, t = client.manifests[(SRC.name, "v1")]
    wrong = "sha256:" + "0" * 64
    client.manifests[(SRC.name, wrong)] = (raw, t)
    with pytest.raises(DigestMismatchError, match="hashes to .*not the sha256:0000"):
        open_remote(client, SRC.with_digest(wrong))


def test_schema1_and_wrong_type_from_registry(simple_layout):
    client = FakeClient()
    client.manifests[(SRC.name, "old")] = (json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(),
                                           "application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(NotSupportedError, match="schema 1"):
        open_remote(client, SRC.with_tag("old"))
    push(client, simple_layout[0], SRC)
    raw, _ = client.manifests[(SRC.name, "v1")]
    client.manifests[(SRC.name, "v1")] = (raw, "application/vnd.docker.distribution.manifest.v2+json")
    with pytest.raises(ImageError, match="served as"):
        open_remote(client, SRC)
    client.manifests[(SRC.name, "v1")] = (raw, "application/json; charset=utf-8")
    assert open_remote(client, SRC).media_type == "application/vnd.oci.image.manifest.v1+json"


def test_push_to_pinned_digest_must_match(simple_layout):
    with pytest.raises(ImageError, match="pinned to"):
        push(FakeClient(), simple_layout[0], SRC.with_digest("sha256:" + "1" * 64))


def test_uploads_run_concurrently_but_bounded(tmp_path):
    from layoutfactory import LayoutBuilder

    b = LayoutBuilder(tmp_path / "many")
    b.tag(b.image([{f"f{i}": bytes([i]) * 100} for i in range(12)]), "many")
    client = FakeClient()
    copy(open_layout(b.root), RemoteSink(client, SRC, max_workers=3), jobs=3)
    assert 2 <= client.max_concurrent <= 3


def test_platform_selection_from_registry_index(multi_layout):
    root, b, idx, amd, arm = multi_layout
    client = FakeClient()
    push(client, root, SRC)
    dest = Ref("reg.example:5000", "team/arm", "only")
    copy(open_remote(client, SRC), RemoteSink(client, dest), platform=parse_platform("linux/arm64/v8"))
    assert open_remote(client, dest).digest == arm["digest"]
