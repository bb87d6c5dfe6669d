"""Entries in an OCI layout store: encoding, TTL, tag confusion; the report's explanations."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

from mason.cache.keys import chain_start, step_key
from mason.cache.report import StepCacheInfo, explain, record_document, record_tag
from mason.cache.store import LayoutCacheStore, NewEntry
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor


class Blob:
    """A LayerRef-like layer: descriptor, diff_id, opener, origin."""

    def __init__(self, content: bytes):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("f")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        raw = buf.getvalue()
        self.data = gzip.compress(raw, mtime=0)
        self.diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.descriptor = Descriptor(mt.OCI_LAYER_GZIP, "sha256:" + hashlib.sha256(self.data).hexdigest(),
                                     len(self.data))
        self.origin = None

    def opener(self):
        return io.BytesIO(self.data)


KEY = step_key(chain_start(platform="linux/amd64", scratch=True), {"kind": "run", "argv": ["x"]})
OTHER = step_key(chain_start(platform="linux/amd64", scratch=True), {"kind": "run", "argv": ["y"]})


def store(tmp_path, now=1_000_000.0, ttl=3600):
    return LayoutCacheStore(str(tmp_path / "cache"), ttl_seconds=ttl, platform=("linux", "amd64"), clock=lambda: now)


def test_cache_entry_round_trip_and_ttl(tmp_path):
    blob = Blob(b"hello")
    store(tmp_path).put(NewEntry(KEY, blob, "RUN x # buildkit", {"argv": "sha256:" + "1" * 64}))
    entry = store(tmp_path, now=1_000_100.0).get(KEY)
    assert entry.layer == blob.descriptor and entry.diff_id == blob.diff_id
    assert entry.created_by == "RUN x # buildkit" and entry.inputs == {"argv": "sha256:" + "1" * 64}
    with entry.opener() as f:
        assert f.read() == blob.data
    assert store(tmp_path, now=1_000_000.0 + 3601).get(KEY) is None     # older than the TTL: a miss
    assert store(tmp_path).get(OTHER) is None


def test_cache_entry_keeps_the_history_time_of_the_build_that_made_it(tmp_path):
    """A hit's history entry reuses it, so a rebuild from the cache is the same image."""
    store(tmp_path).put(NewEntry(KEY, Blob(b"a"), "RUN x", history_created="2026-01-02T03:04:05Z"))
    assert store(tmp_path).get(KEY).history_created == "2026-01-02T03:04:05Z"
    store(tmp_path).put(NewEntry(OTHER, None, "RUN true"))                # older entries have none
    assert store(tmp_path).get(OTHER).history_created is None


def test_cache_empty_entry_for_a_step_that_changed_nothing(tmp_path):
    store(tmp_path).put(NewEntry(KEY, None, "RUN true # buildkit"))
    entry = store(tmp_path).get(KEY)
    assert entry is not None and entry.layer is None and entry.opener is None


def test_cache_entry_under_the_wrong_tag_is_a_miss(tmp_path):
    s = store(tmp_path)
    s.put(NewEntry(KEY, Blob(b"a"), "RUN x"))
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = OTHER.split(":")[1]
    (tmp_path / "cache" / "index.json").write_text(json.dumps(index))
    assert s.get(OTHER) is None


def test_cache_documents(tmp_path):
    s = store(tmp_path)
    assert s.get_document("mason-record-x") is None
    s.put_document("mason-record-x", {"steps": [1]})
    assert s.get_document("mason-record-x") == {"steps": [1]}


def test_cache_record_tag_depends_on_destination_dockerfile_target():
    tags = {record_tag(d, f, t) for d in ("r/a:1", "r/b:1") for f in ("Dockerfile", "sub/Dockerfile")
            for t in (None, "prod")}
    assert len(tags) == 8 and all(len(t) <= 128 for t in tags)


def _step(cache, key, parent, inputs, step_id="1/1"):
    return StepCacheInfo(step_id, "0", "RUN x", "Dockerfile:2", cache, key, parent, inputs)


def test_cache_explain_names_the_differing_inputs():
    old = [_step("miss", "k1", "p", {"argv": "a", "env": "e1"})]
    previous = record_document(old)
    now = [_step("miss", "k2", "p", {"argv": "a", "env": "e2"})]
    explain(now, previous)
    assert now[0].differs == ["env"]
    moved = [_step("miss", "k3", "q", {"argv": "a", "env": "e1"})]
    explain(moved, previous)
    assert moved[0].differs == ["parent"] and "earlier step" in moved[0].reason
    same = [_step("miss", "k1", "p", {"argv": "a", "env": "e1"})]
    explain(same, previous)
    assert "missing or older" in same[0].reason
    first = [_step("miss", "k1", "p", {})]
    explain(first, None)
    assert "no record" in first[0].reason
