"""An image index assembled from per-platform images: ``mason manifest create``.

The fan-out form of a multi-platform build: each platform's image is built and pushed by its
own job on a native runner, then one job lists them in one OCI image index under one tag (what
``docker buildx imagetools create`` does). Sources may be single-platform images (their
platform is read from their config) or indexes (their entries are taken as they are, platform
and all), from any registry, layout or archive mason reads.

The result is a view like any other: :func:`mason.image.copy.copy` writes every child manifest
with its blobs into the destination first (mounted across repositories of one registry,
streamed otherwise) and the index last, so the destination never names a manifest it lacks.
Two entries for one platform, or an entry without one, are refused: a tag must not serve a
platform twice or an image nobody could select.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping

from mason.errors import ImageError
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor
from mason.oci.manifest import Index
from mason.image.view import Image, ImageIndex


@dataclass
class _NoStore:
    """The assembled index lives nowhere yet; its children keep their own stores."""

    name: str = "the assembled index"
    origin: None = None

    def open_blob(self, descriptor):
        raise ImageError(f"{self.name} has no blobs of its own ({descriptor.digest})")

    def read_manifest(self, descriptor):
        raise ImageError(f"{self.name} has no stored manifests ({descriptor.digest})")


class CombinedIndex(ImageIndex):
    """An index whose children are views read from elsewhere."""

    def __init__(self, index: Index, children: list[tuple[Descriptor, Image | ImageIndex]]):
        super().__init__(index, _NoStore())   # type: ignore[arg-type]  # a BlobStore that holds nothing
        self._children = {d.digest: view for d, view in children}

    def child(self, descriptor: Descriptor) -> Image | ImageIndex:
        return self._children[descriptor.digest]

    def children(self) -> Iterator[Image | ImageIndex]:
        for d in self.manifests:
            yield self._children[d.digest]


def combine(sources: list[tuple[str, Image | ImageIndex]],
            annotations: Mapping[str, str] | None = None) -> CombinedIndex:
    """One index listing every platform image of ``sources`` (``(name for messages, view)``)."""
    if not sources:
        raise ImageError("an index needs at least one source image")
    entries: list[tuple[Descriptor, Image | ImageIndex, str]] = []
    for name, view in sources:
        if isinstance(view, ImageIndex):
            for d in view.manifests:
                if not mt.is_manifest(d.media_type):
                    raise ImageError(f"{name}: entry {d.digest} is itself an index; give its images instead")
                entries.append((d, view.child(d), name))
        else:
            platform = view.platform
            if platform is None or not platform.os or not platform.architecture:
                raise ImageError(f"{name}: its config names no os/architecture, so no platform could select it")
            entries.append((view.descriptor(platform=True), view, name))
    seen: dict[tuple, str] = {}
    descriptors: list[Descriptor] = []
    children: list[tuple[Descriptor, Image | ImageIndex]] = []
    for d, view, name in entries:
        if d.platform is None:
            raise ImageError(f"{name}: index entry {d.digest} has no platform, so no platform could select it")
        key = _platform_key(d)
        if key in seen:
            raise ImageError(f"{name} and {seen[key]} both provide {d.platform}",
                             hint="give one image per platform")
        seen[key] = name
        if any(x.digest == d.digest for x in descriptors):
            raise ImageError(f"{name}: manifest {d.digest} is listed twice")
        descriptors.append(d)
        children.append((d, view))
    index = Index.build(descriptors, mt.OCI_INDEX, annotations=dict(annotations or {}))
    return CombinedIndex(index, children)


def _platform_key(d: Descriptor) -> tuple:
    assert d.platform is not None   # checked by the caller
    p = d.platform.normalized()
    return p.os, p.architecture, p.variant, p.os_version
