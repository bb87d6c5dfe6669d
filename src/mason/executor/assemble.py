"""The final image of a build as an ``mason.image.Image`` view, and writing it out.

The view is backed by a ``BuiltStore`` that knows, for every blob, how to open it (a base
layer from its registry or layout, a new layer from the build's work dir, the config from
memory) and where it lives, so a registry sink can mount base layers instead of uploading
them. Nothing is recompressed: base layers go out exactly as they came in.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from mason.executor.layers import LayerRef
from mason.errors import ImageError
from mason.image.view import Image, Origin
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor
from mason.oci.digest import digest_bytes
from mason.oci.manifest import Manifest, canonical_json


@dataclass
class BuiltStore:
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


def build_image(config_doc: dict, layers: list[LayerRef], *, docker_media: bool, name: str = "build") -> Image:
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


@dataclass(frozen=True)
class Output:
    """One place the image goes: a registry reference, an OCI layout or a docker archive."""

    kind: str            # "registry" | "oci" | "docker-archive"
    target: str          # reference text or path
    sink_factory: Callable[[], object] = field(repr=False, compare=False)
    retries: int = 0     # --push-retry: times the whole write starts over after a registry failure


def write_outputs(image: Image, outputs: list[Output], *, jobs: int = 4,
                  warn: Callable[[str], None] = lambda message: None) -> list[tuple[str, str]]:
    """Write ``image`` to every output, concurrently; returns (target, manifest digest) pairs.

    A registry output gets its manifest only after all its blobs are in place (the sink's
    rule), so a failure never leaves a tag pointing at a half-pushed image.
    """
    from mason.image.copy import copy
    from mason.registry.operation_retry import retry_operation

    def one(out: Output) -> tuple[str, str]:
        # A retry starts the copy over on a fresh sink: blobs already pushed are found by HEAD.
        result = retry_operation(lambda: copy(image, out.sink_factory(), jobs=jobs), out.retries,
                                 what=f"push to {out.target}", warn=warn)
        return out.target, result.descriptor.digest

    if len(outputs) <= 1:
        return [one(o) for o in outputs]
    pool = ThreadPoolExecutor(max_workers=min(4, len(outputs)))
    try:
        futures = [pool.submit(one, o) for o in outputs]
        results, errors = [], []
        for f in futures:
            try:
                results.append(f.result())
            except Exception as exc:  # wait for every push before reporting
                errors.append(exc)
    except BaseException:
        # an interrupt: do not wait for pushes stuck on a registry (their manifests never follow)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if errors:
        raise errors[0]
    return results
