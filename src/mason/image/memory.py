"""Images held in memory, and ``scratch``: the empty image every FROM-less build starts from."""

from __future__ import annotations

import io
from typing import BinaryIO, Mapping

from mason.errors import ImageError
from mason.oci import mediatypes as mt
from mason.oci.config import ImageConfig
from mason.oci.descriptor import Descriptor
from mason.oci.digest import digest_bytes
from mason.oci.manifest import Manifest
from mason.oci.platform import Platform, host_platform
from mason.image.view import Image, Origin


class MemoryStore:
    """Blobs in a dict keyed by digest. Small images only (tests, scratch, new configs)."""

    origin: Origin | None = None

    def __init__(self, blobs: Mapping[str, bytes] | None = None, name: str = "memory"):
        self.name = name
        self._blobs = dict(blobs or {})

    def add(self, data: bytes) -> str:
        digest = digest_bytes(data)
        self._blobs[digest] = bytes(data)
        return digest

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        try:
            return io.BytesIO(self._blobs[descriptor.digest])
        except KeyError:
            raise ImageError(f"{self.name}: no blob {descriptor.digest}") from None

    def read_manifest(self, descriptor: Descriptor) -> bytes:
        with self.open_blob(descriptor) as f:
            return f.read()


def memory_image(config: ImageConfig, layers: list[tuple[Descriptor, bytes]],
                 media_type: str = mt.OCI_MANIFEST, name: str = "memory") -> Image:
    """An image from a config and in-memory layer blobs (descriptor, bytes)."""
    store = MemoryStore(name=name)
    config_media = mt.OCI_CONFIG if media_type == mt.OCI_MANIFEST else mt.DOCKER_CONFIG
    config_desc = Descriptor(config_media, store.add(config.raw), len(config.raw))
    for desc, data in layers:
        if store.add(data) != desc.digest:
            raise ImageError(f"{name}: layer bytes do not hash to {desc.digest}")
    manifest = Manifest.build(config_desc, [d for d, _ in layers], media_type)
    store.add(manifest.raw)
    return Image(manifest, store)


def scratch_image(platform: Platform | None = None) -> Image:
    """The empty image: no layers, a minimal config for ``platform`` (default: the host's).

    No ``created`` time is set so that scratch is the same bytes every time.
    """
    plat = platform or host_platform()
    data = {"architecture": plat.architecture, "os": plat.os, "config": {},
            "rootfs": {"type": "layers", "diff_ids": []}}
    if plat.variant and not (plat.architecture == "arm64" and plat.variant == "v8"):
        data["variant"] = plat.variant
    return memory_image(ImageConfig.build(data), [], name="scratch")
