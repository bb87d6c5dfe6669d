"""A new image as an ``Image`` view: manifest and config made here, blobs opened where they live.

The view is backed by a ``BuiltStore`` that knows, for every blob, how to open it (a base
layer from its registry or layout, a new layer from a build's work dir, the config from
memory) and where it lives, so a registry sink can mount base layers instead of uploading
them. Nothing is recompressed: base layers go out exactly as they came in. Builds and cache
entries (``mason.cache.store``) are both assembled here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Protocol, Sequence

from mason.errors import ImageError
from mason.image.view import Image, Origin
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor
from mason.oci.digest import digest_bytes
from mason.oci.manifest import Manifest, canonical_json


class LayerBlob(Protocol):
    """A layer as assembly needs it: its descriptor, how to open its blob, where it lives."""

    @property
    def descriptor(self) -> Descriptor: ...
    @property
    def opener(self) -> Callable[[], BinaryIO]: ...
    @property
    def origin(self) -> object | None: ...


@dataclass
class BuiltStore:
    """The blobs of an image being assembled, by digest, and where each came from."""

    name: str
    origin: Origin | None = None
    _openers: dict[str, Callable[[], BinaryIO]] = field(default_factory=dict)
    _origins: dict[str, Origin | None] = field(default_factory=dict)

    def add(self, digest: str, opener: Callable[[], BinaryIO], origin: Origin | None = None) -> None:
        self._openers.setdefault(digest, opener)
        self._origins.setdefault(digest, origin)

    def add_bytes(self, data: bytes) -> str:
        digest = digest_bytes(data)
        self.add(digest, lambda: io.BytesIO(data))
        return digest

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        try:
            return self._openers[descriptor.digest]()
        except KeyError:
            raise ImageError(f"{self.name}: no blob {descriptor.digest}") from None

    def read_manifest(self, descriptor: Descriptor) -> bytes:
        with self.open_blob(descriptor) as f:
            return f.read()

    def origin_of(self, descriptor: Descriptor) -> Origin | None:
        return self._origins.get(descriptor.digest)


def build_image(config_doc: dict, layers: Sequence[LayerBlob], *, docker_media: bool, name: str = "build") -> Image:
    """Assemble manifest + config for ``layers`` into an Image view."""
    store = BuiltStore(name)
    config_bytes = canonical_json(config_doc)
    config_desc = Descriptor(mt.DOCKER_CONFIG if docker_media else mt.OCI_CONFIG,
                             store.add_bytes(config_bytes), len(config_bytes))
    for ref in layers:
        store.add(ref.descriptor.digest, ref.opener, ref.origin)
    manifest = Manifest.build(config_desc, [ref.descriptor for ref in layers],
                              mt.DOCKER_MANIFEST if docker_media else mt.OCI_MANIFEST)
    store.add_bytes(manifest.raw)
    return Image(manifest, store, config_bytes=config_bytes)


