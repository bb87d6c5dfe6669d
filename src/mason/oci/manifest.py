"""Image manifests and indexes: parse and validate existing ones, build canonical new ones.

A parsed manifest keeps the exact bytes it came from (``raw``): re-serialising JSON would change
whitespace or key order and therefore the digest, so existing content is always passed on as-is.
New manifests are serialised canonically (sorted keys, no insignificant whitespace).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from mason.errors import ImageError
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor
from mason.oci.digest import digest_bytes


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _load(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{where}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ImageError(f"{where}: expected a JSON object, got {type(data).__name__}")
    return data


def _media_type(data: dict[str, Any], declared: str | None, where: str) -> str:
    """The manifest's media type from its body and/or the descriptor/header that named it."""
    body = data.get("mediaType")
    if body is not None and not isinstance(body, str):
        raise ImageError(f"{where}: mediaType must be a string")
    mt.refuse_schema1(body, where)
    if declared:
        mt.refuse_schema1(declared, where)
    if data.get("schemaVersion") == 1:
        mt.refuse_schema1(mt.DOCKER_SCHEMA1, where)
    if data.get("schemaVersion") != 2:
        raise ImageError(f"{where}: schemaVersion must be 2, got {data.get('schemaVersion')!r}")
    if body and declared and body != declared:
        raise ImageError(f"{where}: body says mediaType {body!r} but it was served as {declared!r}")
    media_type = body or declared
    if not media_type:
        # An OCI manifest may omit mediaType; tell manifest from index by their fields.
        if "manifests" in data and "config" not in data:
            media_type = mt.OCI_INDEX
        elif "config" in data:
            media_type = mt.OCI_MANIFEST
        else:
            raise ImageError(f"{where}: neither a manifest nor an index (no config, no manifests)")
    return mt.check_manifest_type(media_type, where)


class _Document:
    """What manifests and indexes share: they are their raw bytes, so digest and size are
    those of ``raw`` (never of a re-serialisation)."""

    raw: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return digest_bytes(self.raw)

    @property
    def size(self) -> int:
        return len(self.raw)

    def descriptor(self, **kw: Any) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size, **kw)


@dataclass(frozen=True)
class Manifest(_Document):
    """A single-platform image manifest."""

    raw: bytes
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, config: Descriptor, layers: list[Descriptor], media_type: str = mt.OCI_MANIFEST,
              annotations: Mapping[str, str] | None = None) -> "Manifest":
        body: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type,
                                "config": config.to_dict(), "layers": [d.to_dict() for d in layers]}
        if annotations:
            body["annotations"] = dict(annotations)
        doc = parse_manifest(canonical_json(body), media_type)
        assert isinstance(doc, Manifest)
        return doc


@dataclass(frozen=True)
class Index(_Document):
    """A multi-platform index (OCI image index or Docker manifest list)."""

    raw: bytes
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, manifests: list[Descriptor], media_type: str = mt.OCI_INDEX,
              annotations: Mapping[str, str] | None = None) -> "Index":
        body: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type,
                                "manifests": [d.to_dict() for d in manifests]}
        if annotations:
            body["annotations"] = dict(annotations)
        doc = parse_manifest(canonical_json(body), media_type)
        assert isinstance(doc, Index)
        return doc


def parse_manifest(raw: bytes, media_type: str | None = None, where: str = "manifest") -> Manifest | Index:
    """Parse and validate manifest or index bytes.

    ``media_type`` is what the container of the bytes declared (a descriptor, a Content-Type
    header); it must agree with the body's own ``mediaType`` when both are present.
    """
    data = _load(raw, where)
    kind = _media_type(data, media_type, where)
    annotations = data.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ImageError(f"{where}: annotations must be an object")
    own_digest = digest_bytes(raw)
    if mt.is_index(kind):
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise ImageError(f"{where}: an index needs a 'manifests' list")
        manifests = tuple(Descriptor.from_dict(d, f"{where}: manifests[{i}]") for i, d in enumerate(entries))
        for i, d in enumerate(manifests):
            if d.digest == own_digest:
                raise ImageError(f"{where}: manifests[{i}] points at the index itself ({own_digest})")
        return Index(bytes(raw), kind, manifests, annotations)
    if "config" not in data:
        raise ImageError(f"{where}: an image manifest needs a 'config' descriptor")
    config = Descriptor.from_dict(data["config"], f"{where}: config")
    if config.digest == own_digest:
        raise ImageError(f"{where}: config points at the manifest itself")
    entries = data.get("layers")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ImageError(f"{where}: 'layers' must be a list")
    layers = tuple(Descriptor.from_dict(d, f"{where}: layers[{i}]") for i, d in enumerate(entries))
    for i, d in enumerate(layers):
        if not mt.is_layer(d.media_type):
            raise ImageError(f"{where}: layers[{i}] has unsupported media type {d.media_type!r}")
    return Manifest(bytes(raw), kind, config, layers, annotations)
