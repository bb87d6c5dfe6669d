"""The read-only Image, Layer and ImageIndex views, and the BlobStore seam under them.

A backing (registry, layout, archive, memory) only has to implement :class:`BlobStore`: hand
out raw bytes for a descriptor. Everything above — parsing, validation, digest verification,
platform selection, cycle detection — is done once, here, for every backing alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator, Protocol

from mason.errors import ImageError
from mason.oci import mediatypes as mt
from mason.oci.config import ImageConfig, parse_config
from mason.oci.descriptor import Descriptor
from mason.oci.digest import VerifyingReader, digest_bytes, verify_bytes
from mason.oci.manifest import Index, Manifest, parse_manifest
from mason.oci.platform import Platform, host_platform, select_platform

MAX_MANIFEST = 4 << 20      # what distribution accepts; more is not a manifest
MAX_CONFIG = 64 << 20       # configs are read whole; bound what we are willing to hold


@dataclass(frozen=True)
class Origin:
    """Where a registry-backed view lives: lets a registry sink mount instead of uploading."""

    registry: str
    repository: str


class BlobStore(Protocol):
    """What a backing must provide. ``open_blob`` returns raw, *unverified* bytes."""

    name: str                      # for messages: "oci:/tmp/x", "registry.example/a/b"
    origin: Origin | None

    def open_blob(self, descriptor: Descriptor) -> BinaryIO: ...

    def read_manifest(self, descriptor: Descriptor) -> bytes: ...


def read_verified(store: BlobStore, descriptor: Descriptor, limit: int, what: str) -> bytes:
    """Read a small blob whole, refusing it if too large or not matching its descriptor."""
    if descriptor.size > limit:
        raise ImageError(f"{store.name}: {what} {descriptor.digest} is {descriptor.size} bytes, over the {limit} limit")
    with store.open_blob(descriptor) as stream:
        data = stream.read(limit + 1)
    return verify_bytes(data, descriptor.digest, descriptor.size, f"{store.name}: {what}")


class Layer:
    """One layer of an image: compressed blob descriptor plus the diff_id from the config."""

    def __init__(self, descriptor: Descriptor, diff_id: str, store: BlobStore):
        self.descriptor = descriptor
        self.diff_id = diff_id
        self._store = store

    digest = property(lambda self: self.descriptor.digest)
    size = property(lambda self: self.descriptor.size)
    media_type = property(lambda self: self.descriptor.media_type)

    @property
    def compression(self) -> str | None:
        return mt.layer_compression(self.media_type)

    def open(self) -> VerifyingReader:
        """The blob as stored (compressed), verified against digest and size at EOF."""
        return VerifyingReader(self._store.open_blob(self.descriptor), self.digest, self.size,
                               f"{self._store.name}: layer {self.digest}")

    def open_uncompressed(self) -> BinaryIO:
        """The layer tar, verified against the diff_id at EOF (and the blob digest underneath)."""
        from mason.image.decompress import decompressing_reader

        blob = self.open()
        # A decompressor may stop at the end of the compressed data without reading the blob's
        # EOF; draining it at the end makes sure the blob digest is checked too.
        return VerifyingReader(decompressing_reader(blob, self.compression, f"{self._store.name}: layer {self.digest}"),
                               self.diff_id, None,
                               f"{self._store.name}: layer {self.digest} (diff_id)", on_eof=blob.drain)

    def __repr__(self) -> str:
        return f"Layer({self.digest}, {self.size} bytes, {self.media_type})"


class Image:
    """A single-platform image, read-only, whatever backs it."""

    def __init__(self, manifest: Manifest, store: BlobStore, *, config_bytes: bytes | None = None):
        self.manifest = manifest
        self.store = store
        where = f"{store.name}: manifest {manifest.digest}"
        if not mt.is_manifest(manifest.media_type):
            raise ImageError(f"{where}: not an image manifest ({manifest.media_type})")
        if manifest.config.media_type not in mt.CONFIGS:
            raise ImageError(f"{where}: config has unsupported media type {manifest.config.media_type!r}")
        if config_bytes is None:
            config_bytes = read_verified(store, manifest.config, MAX_CONFIG, "config")
        else:
            verify_bytes(config_bytes, manifest.config.digest, manifest.config.size, f"{store.name}: config")
        self.config: ImageConfig = parse_config(config_bytes, f"{store.name}: config {manifest.config.digest}")
        diff_ids = self.config.diff_ids
        if len(diff_ids) != len(manifest.layers):
            raise ImageError(f"{where}: {len(manifest.layers)} layers but the config lists {len(diff_ids)} diff_ids")
        self.layers: tuple[Layer, ...] = tuple(Layer(d, diff, store) for d, diff in zip(manifest.layers, diff_ids))

    manifest_bytes = property(lambda self: self.manifest.raw)
    media_type = property(lambda self: self.manifest.media_type)
    digest = property(lambda self: self.manifest.digest)
    size = property(lambda self: self.manifest.size)
    config_bytes = property(lambda self: self.config.raw)
    config_descriptor = property(lambda self: self.manifest.config)
    platform = property(lambda self: self.config.platform)
    name = property(lambda self: self.store.name)
    origin = property(lambda self: self.store.origin)

    def descriptor(self, platform: bool = False) -> Descriptor:
        return self.manifest.descriptor(platform=self.platform if platform else None)

    def origin_of(self, descriptor: Descriptor) -> Origin | None:
        """Where one blob lives; a built image mixes blobs from several places."""
        per_blob = getattr(self.store, "origin_of", None)
        return per_blob(descriptor) if per_blob is not None else self.store.origin

    def blobs(self) -> list[Descriptor]:
        """Config then layers, each once (an image may repeat a layer)."""
        seen, out = set(), []
        for d in (self.manifest.config, *self.manifest.layers):
            if d.digest not in seen:
                seen.add(d.digest)
                out.append(d)
        return out

    def open_blob(self, descriptor: Descriptor) -> VerifyingReader:
        if descriptor.digest == self.manifest.config.digest:
            import io

            return VerifyingReader(io.BytesIO(self.config_bytes), descriptor.digest, descriptor.size,
                                   f"{self.name}: config")
        return VerifyingReader(self.store.open_blob(descriptor), descriptor.digest, descriptor.size,
                               f"{self.name}: blob {descriptor.digest}")

    def __repr__(self) -> str:
        return f"Image({self.name}@{self.digest}, {self.platform}, {len(self.layers)} layers)"


class ImageIndex:
    """A multi-platform index; children are loaded lazily and verified like everything else."""

    def __init__(self, index: Index, store: BlobStore, *, ancestors: frozenset[str] = frozenset()):
        self.index = index
        self.store = store
        self._ancestors = ancestors | {index.digest}

    manifest_bytes = property(lambda self: self.index.raw)
    media_type = property(lambda self: self.index.media_type)
    digest = property(lambda self: self.index.digest)
    size = property(lambda self: self.index.size)
    manifests = property(lambda self: self.index.manifests)
    name = property(lambda self: self.store.name)
    origin = property(lambda self: self.store.origin)

    def descriptor(self) -> Descriptor:
        return self.index.descriptor()

    def child(self, descriptor: Descriptor) -> "Image | ImageIndex":
        if descriptor.digest in self._ancestors:
            raise ImageError(f"{self.name}: index {self.digest} refers back to {descriptor.digest} (a cycle)")
        return load_view(self.store, descriptor, ancestors=self._ancestors)

    def children(self) -> Iterator["Image | ImageIndex"]:
        for d in self.manifests:
            yield self.child(d)

    def platforms(self) -> list[Platform]:
        return [d.platform for d in self.manifests if d.platform is not None]

    def select(self, platform: Platform | None = None) -> Image:
        """The image for ``platform`` (default: this host's), descending nested indexes."""
        wanted = platform or host_platform()
        images = [(d.platform, d) for d in self.manifests if mt.is_manifest(d.media_type)]
        nested = [d for d in self.manifests if mt.is_index(d.media_type)]
        if nested and not any(wanted.matches(p) for p, _ in images if p is not None):
            return self.child(nested[0]).select(wanted)
        found = select_platform(images, wanted, f"{self.name}: index {self.digest}")
        return self.child(found)

    def __repr__(self) -> str:
        return f"ImageIndex({self.name}@{self.digest}, {len(self.manifests)} manifests)"


def view_from_bytes(store: BlobStore, raw: bytes, media_type: str | None, *,
                    ancestors: frozenset[str] = frozenset(), what: str = "manifest") -> Image | ImageIndex:
    parsed = parse_manifest(raw, media_type, f"{store.name}: {what} {digest_bytes(raw)}")
    if isinstance(parsed, Index):
        return ImageIndex(parsed, store, ancestors=ancestors)
    return Image(parsed, store)


def load_view(store: BlobStore, descriptor: Descriptor, *, ancestors: frozenset[str] = frozenset()) -> Image | ImageIndex:
    """Read, verify and parse the manifest or index ``descriptor`` names."""
    mt.check_manifest_type(descriptor.media_type, f"{store.name}: {descriptor.digest}")
    if descriptor.size > MAX_MANIFEST:
        raise ImageError(f"{store.name}: manifest {descriptor.digest} is {descriptor.size} bytes, over the {MAX_MANIFEST} limit")
    raw = store.read_manifest(descriptor)
    verify_bytes(raw, descriptor.digest, descriptor.size, f"{store.name}: manifest")
    return view_from_bytes(store, raw, descriptor.media_type, ancestors=ancestors)


View = Image | ImageIndex
Opener = Callable[[], BinaryIO]
