"""OCI image layout directories (``oci:DIR[:REF]``): read and write.

Layout: ``oci-layout`` ({"imageLayoutVersion": "1.0.0"}), ``index.json`` (an OCI index whose
entries may carry ``org.opencontainers.image.ref.name``) and ``blobs/<alg>/<hex>``.
Blobs are written to a temporary name and renamed only after their digest verified, and
index.json is replaced atomically under a lock, so readers never see a partial layout.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from mason.errors import ImageError
from mason.oci import mediatypes as mt
from mason.oci.descriptor import REF_NAME, Descriptor
from mason.oci.digest import CHUNK, parse_digest
from mason.oci.manifest import Index, canonical_json, parse_manifest
from mason.image.view import Image, ImageIndex, Opener, Origin, load_view

LAYOUT_VERSION = "1.0.0"


class LayoutStore:
    """Blobs of a layout directory."""

    origin: Origin | None = None

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.name = f"oci:{self.path}"

    def blob_path(self, digest: str) -> Path:
        algorithm, encoded = parse_digest(digest)
        return self.path / "blobs" / algorithm / encoded

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        try:
            return open(self.blob_path(descriptor.digest), "rb")
        except FileNotFoundError:
            raise ImageError(f"{self.name}: blob {descriptor.digest} is missing") from None

    def read_manifest(self, descriptor: Descriptor) -> bytes:
        with self.open_blob(descriptor) as f:
            return f.read(descriptor.size + 1)


def read_index_json(path: Path) -> Index:
    where = f"oci:{path}"
    try:
        layout = json.loads((path / "oci-layout").read_bytes())
    except FileNotFoundError:
        raise ImageError(f"{where}: not an OCI image layout (no oci-layout file)") from None
    except ValueError as exc:
        raise ImageError(f"{where}: oci-layout is not valid JSON: {exc}") from None
    if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != LAYOUT_VERSION:
        raise ImageError(f"{where}: unsupported imageLayoutVersion {layout!r}")
    try:
        raw = (path / "index.json").read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{where}: index.json is missing") from None
    index = parse_manifest(raw, None, f"{where}/index.json")
    if not isinstance(index, Index):
        raise ImageError(f"{where}: index.json is not an image index")
    return index


def _pick(index: Index, ref: str | None, where: str) -> Descriptor:
    entries = [d for d in index.manifests if mt.is_manifest(d.media_type) or mt.is_index(d.media_type)]
    if ref is not None:
        named = [d for d in entries if d.ref_name == ref]
        if not named:
            refs = sorted({d.ref_name for d in entries if d.ref_name})
            raise ImageError(f"{where}: no image named {ref!r}; available: {', '.join(refs) or 'none'}")
        return named[-1]
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise ImageError(f"{where}: the layout holds no image")
    refs = sorted({d.ref_name for d in entries if d.ref_name})
    raise ImageError(f"{where}: holds {len(entries)} images; name one with oci:DIR:REF "
                     f"(available: {', '.join(refs) or 'none named'})")


def open_layout(path: str | os.PathLike, ref: str | None = None) -> Image | ImageIndex:
    """The image or index named ``ref`` in the layout (or its only entry)."""
    store = LayoutStore(path)
    index = read_index_json(store.path)
    return load_view(store, _pick(index, ref, store.name))


class LayoutSink:
    """Writes into a layout directory (created if needed), then names the root ``ref``."""

    max_workers = 4
    supports_index = True

    def __init__(self, path: str | os.PathLike, ref: str | None = None):
        self.store = LayoutStore(path)
        self.path = self.store.path
        self.name = self.store.name
        self.ref = ref
        self._root: Descriptor | None = None
        self.path.mkdir(parents=True, exist_ok=True)
        # Under the same directory lock as ``commit``: two writers starting on a new layout at
        # once (parallel cache pushes) must not see each other's half-made one (a temporary
        # file, oci-layout without index.json) and take it for a foreign directory.
        dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)
            if (self.path / "oci-layout").exists():
                read_index_json(self.path)      # refuse to add to something that is not a layout
            else:
                if any(p.name not in ("blobs",) for p in self.path.iterdir()):
                    raise ImageError(f"{self.name}: directory is not empty and not an OCI layout")
                _atomic_write(self.path / "oci-layout", canonical_json({"imageLayoutVersion": LAYOUT_VERSION}))
                _atomic_write(self.path / "index.json",
                              canonical_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}))
        finally:
            os.close(dir_fd)

    def has_blob(self, descriptor: Descriptor) -> bool:
        try:
            return self.store.blob_path(descriptor.digest).stat().st_size == descriptor.size
        except FileNotFoundError:
            return False

    def put_blob(self, descriptor: Descriptor, opener: Opener, origin: Origin | None = None) -> None:
        target = self.store.blob_path(descriptor.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_copy(opener, target)

    def put_manifest(self, raw: bytes, descriptor: Descriptor, *, root: bool) -> None:
        from mason.oci.digest import VerifyingReader

        if not self.has_blob(descriptor):
            self.put_blob(descriptor, lambda: VerifyingReader(io.BytesIO(raw), descriptor.digest,
                                                              descriptor.size, f"{self.name}: manifest"))
        if root:
            self._root = descriptor

    def commit(self) -> None:
        if self._root is None:
            raise ImageError(f"{self.name}: nothing was written")
        # Lock the directory itself (flock works on directory fds): two writers naming images in
        # one layout must not lose each other's index.json entries, and no lock file is left.
        dir_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)
            index = read_index_json(self.path)
            entries = [d for d in index.manifests if not (self.ref is not None and d.ref_name == self.ref)]
            annotations = {REF_NAME: self.ref} if self.ref is not None else {}
            new = Descriptor(self._root.media_type, self._root.digest, self._root.size, annotations,
                             self._root.platform)
            if self.ref is not None or new not in entries:
                entries.append(new)
            data = json.loads(index.raw)
            data["manifests"] = [d.to_dict() for d in entries]
            data.setdefault("mediaType", mt.OCI_INDEX)
            _atomic_write(self.path / "index.json", canonical_json(data))
        finally:
            os.close(dir_fd)

    def abort(self) -> None:
        """Blobs already renamed are valid content-addressed files; index.json is untouched."""


def _atomic_write(path: Path, data: bytes) -> None:
    _atomic_copy(lambda: io.BytesIO(data), path)


def _atomic_copy(opener: Opener, path: Path) -> None:
    """Stream what ``opener`` opens into ``path`` so that readers see the whole file or none
    of it (temp file, fsync, rename). The source is closed before the rename, so a stream that
    verifies its digest on close can still stop a bad blob; a failure leaves nothing behind."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, opener() as src:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["LayoutSink", "LayoutStore", "open_layout", "read_index_json"]
