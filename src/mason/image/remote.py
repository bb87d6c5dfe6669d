"""Images in a registry: a source (``open_remote``) and a sink (``RemoteSink``).

Coded against :class:`mason.registry.RegistryClient`. Blobs stream straight from the source's
stream into the upload (registry -> registry never touches the disk); blobs the destination
already has are skipped after a HEAD; blobs from another repository of the same registry are
mounted, falling back to upload when the registry refuses the mount.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, Callable

from mason.errors import DigestMismatchError, ImageError, RegistryError
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor
from mason.oci.digest import digest_bytes
from mason.image.view import Image, ImageIndex, Opener, Origin, view_from_bytes

if TYPE_CHECKING:   # the client and references are passed in; nothing is imported at run time
    from mason.oci.reference import Reference
    from mason.registry import RegistryClient


def _content_type(value: str | None) -> str | None:
    """A manifest media type from a Content-Type header; generic types say nothing."""
    if not value:
        return None
    value = value.split(";", 1)[0].strip()
    if value in mt.SCHEMA1:
        return value
    return value if (mt.is_manifest(value) or mt.is_index(value)) else None


class RemoteStore:
    def __init__(self, client: "RegistryClient", ref: "Reference"):
        self.client = client
        self.ref = ref
        self.name = ref.name
        self.origin = Origin(ref.registry, ref.repository)

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        return self.client.open_blob(self.ref.repo(), descriptor.digest, descriptor.size)

    def read_manifest(self, descriptor: Descriptor) -> bytes:
        raw, media_type, _ = self.client.get_manifest(self.ref.with_digest(descriptor.digest),
                                                      mt.MANIFEST_ACCEPT)
        served = _content_type(media_type)
        if served and served != descriptor.media_type:
            mt.refuse_schema1(served, f"{self.name}@{descriptor.digest}")
            raise ImageError(f"{self.name}@{descriptor.digest}: served as {served}, "
                             f"but the index lists it as {descriptor.media_type}")
        return raw


def open_remote(client: "RegistryClient", ref: "Reference") -> Image | ImageIndex:
    """The image or index ``ref`` names, its manifest verified against the digest asked for."""
    store = RemoteStore(client, ref)
    raw, media_type, served_digest = client.get_manifest(ref, mt.MANIFEST_ACCEPT)
    actual = digest_bytes(raw)
    if ref.digest and actual != ref.digest:
        raise DigestMismatchError(f"{ref}: the registry's manifest hashes to {actual}, not the {ref.digest} asked for")
    if served_digest and served_digest.startswith("sha256:") and served_digest != actual:
        raise DigestMismatchError(f"{ref}: the registry says the manifest is {served_digest}, but it hashes to {actual}")
    declared = _content_type(media_type)
    return view_from_bytes(store, raw, declared, what=f"manifest of {ref}")


class RemoteSink:
    """Pushes to ``ref``: blobs first (bounded concurrency), then manifests, root last."""

    supports_index = True

    def __init__(self, client: "RegistryClient", ref: "Reference", *, max_workers: int = 4,
                 ignore_immutable_tag: bool = False, warn: Callable[[str], None] | None = None):
        self.client = client
        # --push-ignore-immutable-tag-errors: a refused tag that already exists is not a failure.
        self.ignore_immutable_tag = ignore_immutable_tag
        self.warn = warn or (lambda message: None)
        self.ref = ref
        self.repo = ref.repo()
        self.name = str(ref)
        self.max_workers = max_workers
        self.mounted: list[str] = []

    def has_blob(self, descriptor: Descriptor) -> bool:
        size = self.client.blob_size(self.repo, descriptor.digest)
        return size is not None and size == descriptor.size

    def put_blob(self, descriptor: Descriptor, opener: Opener, origin: Origin | None = None) -> None:
        if origin is not None and origin.registry == self.ref.registry and origin.repository != self.ref.repository:
            from_repo = type(self.repo)(origin.registry, origin.repository)
            if self.client.mount_blob(self.repo, descriptor.digest, from_repo):
                self.mounted.append(descriptor.digest)
                return
        self.client.upload_blob(self.repo, descriptor.digest, descriptor.size, opener)

    def put_manifest(self, raw: bytes, descriptor: Descriptor, *, root: bool) -> None:
        if root and self.ref.digest and self.ref.digest != descriptor.digest:
            raise ImageError(f"{self.ref}: cannot push manifest {descriptor.digest} to a reference pinned to "
                             f"{self.ref.digest}")
        if not root:                      # children of an index: by digest only
            target = self.ref.with_digest(descriptor.digest)
        elif self.ref.tag:                # the root is tagged (its digest, if pinned, was checked above)
            target = self.ref.with_tag(self.ref.tag)
        else:
            target = self.ref
        try:
            pushed = self.client.put_manifest(target, raw, descriptor.media_type)
        except RegistryError as exc:
            if root and self.ignore_immutable_tag and target.tag and not target.digest \
                    and self._tag_is_immutable(target, descriptor, exc):
                return
            raise
        if pushed and pushed != descriptor.digest:
            raise DigestMismatchError(f"{target}: the registry stored the manifest as {pushed}, "
                                      f"expected {descriptor.digest}")

    def _tag_is_immutable(self, target: "Reference", descriptor: Descriptor, exc: RegistryError) -> bool:
        """True (after a warning) if ``exc`` refuses ``target`` as an immutable tag that exists.

        Every blob is already in place when the root manifest is PUT, so only the tag is at
        stake; the tag must exist (an immutable tag that is absent cannot be the reason), so
        the registry is asked for it before the refusal is accepted.
        """
        from mason.registry.immutable import is_immutable_tag_error

        if not is_immutable_tag_error(exc):
            return False
        found = self.client.head_manifest(target, mt.MANIFEST_ACCEPT)
        if found is None:
            return False
        current = found[0]
        same = "the same image" if current == descriptor.digest else f"{current}, not this build's {descriptor.digest}"
        self.warn(f"{target}: the registry refused to move an immutable tag ({exc}); the tag stays on {same}; "
                  "treated as success (--push-ignore-immutable-tag-errors)")
        return True

    def commit(self) -> None:
        """Nothing to do: the root manifest, pushed last, is what makes the image visible."""

    def abort(self) -> None:
        """Blobs already pushed are harmless (unreferenced blobs are garbage-collected)."""
