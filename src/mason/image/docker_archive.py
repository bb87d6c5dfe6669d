"""docker-archive tarballs (``docker-archive:FILE[:NAME]``): the ``docker save``/``docker load`` format.

Reading accepts what docker, skopeo and go-containerregistry write: ``manifest.json`` entries
(``Config``, ``RepoTags``, ``Layers``) pointing at a config file and layer files, which may be
uncompressed tars (``<id>/layer.tar``) or compressed blobs. When the tar also holds an OCI layout
(``index.json`` + ``blobs/``, as Docker 25+ and mason write) and it has a manifest for the same
config, that manifest is used byte for byte, so digests survive the round trip.

Writing stores every blob as-is under ``blobs/<alg>/<hex>`` (compressed layers too: ``docker
load`` decompresses them), an OCI ``index.json`` naming the manifest, and ``manifest.json`` with
``RepoTags`` for ``docker load``. The file is written under a temporary name and renamed at the end.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from mason.errors import DigestMismatchError, ImageError
from mason.oci import mediatypes as mt
from mason.oci.descriptor import REF_NAME, Descriptor
from mason.oci.digest import digest_bytes, digest_stream, parse_digest
from mason.oci.manifest import Index, Manifest, canonical_json, parse_manifest
from mason.image.decompress import sniff_compression
from mason.image.view import Image, Opener, Origin, load_view

_LAYER_TYPES = {None: mt.OCI_LAYER, "gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}
CONTAINERD_NAME = "io.containerd.image.name"


def familiar_tag(name: str) -> str:
    """Docker's RepoTags form: ``busybox:latest``, ``localhost:5000/a:b`` (tag defaults to latest)."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if "@" in name:
        raise ImageError(f"docker-archive name {name!r}: RepoTags cannot hold a digest")
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


class _Section:
    """A read-only window on one tar member, with its own file handle (threads may share an archive)."""

    def __init__(self, path: Path, offset: int, size: int):
        self._file = open(path, "rb")
        self._file.seek(offset)
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._file.read(n)
        self._left -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArchiveStore:
    """Blobs inside a docker-archive: by OCI blob path, or by the files manifest.json names."""

    origin: Origin | None = None

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.name = f"docker-archive:{self.path}"
        self.members: dict[str, tuple[int, int]] = {}
        self.by_digest: dict[str, str] = {}      # digest -> member, for synthesised manifests
        self.links: dict[str, str] = {}          # skopeo links <id>/layer.tar -> ../<digest>.tar
        try:
            with tarfile.open(self.path, "r:") as tar:
                for m in tar:
                    if m.isfile():
                        self.members[_clean(m.name)] = (m.offset_data, m.size)
                    elif m.issym():
                        self.links[_clean(m.name)] = posixpath.normpath(
                            posixpath.join(posixpath.dirname(_clean(m.name)), m.linkname))
        except FileNotFoundError:
            raise ImageError(f"{self.name}: no such file") from None
        except tarfile.TarError as exc:
            raise ImageError(f"{self.name}: not a tar archive: {exc}") from None

    def resolve(self, name: str) -> str:
        name = _clean(name)
        for _ in range(8):          # a few hops at most: a loop is an error below
            if name not in self.links:
                break
            name = self.links[name]
        return name

    def open_member(self, name: str) -> BinaryIO:
        try:
            offset, size = self.members[self.resolve(name)]
        except KeyError:
            raise ImageError(f"{self.name}: the archive has no file {name!r}") from None
        return _Section(self.path, offset, size)

    def read_member(self, name: str, limit: int = 64 << 20) -> bytes:
        if self.members.get(self.resolve(name), (0, 0))[1] > limit:
            raise ImageError(f"{self.name}: {name} is larger than {limit} bytes")
        with self.open_member(name) as f:
            return f.read()

    def member_for(self, digest: str) -> str:
        if digest in self.by_digest:
            return self.by_digest[digest]
        algorithm, encoded = parse_digest(digest)
        return f"blobs/{algorithm}/{encoded}"

    def open_blob(self, descriptor: Descriptor) -> BinaryIO:
        return self.open_member(self.member_for(descriptor.digest))

    def read_manifest(self, descriptor: Descriptor) -> bytes:
        return self.read_member(self.member_for(descriptor.digest), descriptor.size + 1)


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def open_docker_archive(path: str | os.PathLike, name: str | None = None) -> Image:
    """The image tagged ``name`` in the archive (or its only image)."""
    store = ArchiveStore(path)
    if "manifest.json" not in store.members:
        raise ImageError(f"{store.name}: no manifest.json (archives from docker before 1.10 are not supported)")
    try:
        entries = json.loads(store.read_member("manifest.json"))
    except ValueError as exc:
        raise ImageError(f"{store.name}: manifest.json is not valid JSON: {exc}") from None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ImageError(f"{store.name}: manifest.json must be a non-empty list of objects")
    entry = _pick(entries, name, store.name)
    if not isinstance(entry.get("Config"), str) or not isinstance(entry.get("Layers"), list):
        raise ImageError(f"{store.name}: manifest.json entry lacks Config or Layers")
    config_raw = store.read_member(entry["Config"])
    config_digest = digest_bytes(config_raw)
    exact = _oci_manifest_for(store, config_digest, len(entry["Layers"]))
    if exact is not None:
        return exact
    return _synthesise(store, entry, config_raw, config_digest)


def _pick(entries: list[dict], name: str | None, where: str) -> dict:
    if name is None:
        if len(entries) == 1:
            return entries[0]
        tags = sorted(t for e in entries for t in (e.get("RepoTags") or []))
        raise ImageError(f"{where}: holds {len(entries)} images; name one with docker-archive:FILE:NAME "
                         f"(available: {', '.join(tags) or 'none tagged'})")
    wanted = familiar_tag(name)
    for e in entries:
        if wanted in [familiar_tag(t) for t in (e.get("RepoTags") or [])]:
            return e
    tags = sorted(t for e in entries for t in (e.get("RepoTags") or []))
    raise ImageError(f"{where}: no image tagged {name!r}; available: {', '.join(tags) or 'none'}")


def _oci_manifest_for(store: ArchiveStore, config_digest: str, layer_count: int) -> Image | None:
    """The embedded OCI layout's manifest for this config, if the archive has one."""
    if "index.json" not in store.members:
        return None
    index = parse_manifest(store.read_member("index.json", 4 << 20), None, f"{store.name}: index.json")
    if not isinstance(index, Index):
        raise ImageError(f"{store.name}: index.json is not an image index")
    pending, seen = list(index.manifests), set()
    while pending:
        desc = pending.pop(0)
        if desc.digest in seen or store.member_for(desc.digest) not in store.members:
            continue
        seen.add(desc.digest)
        if mt.is_index(desc.media_type):
            view = load_view(store, desc)
            pending.extend(view.manifests)
        elif mt.is_manifest(desc.media_type):
            raw = store.read_manifest(desc)
            manifest = parse_manifest(raw, desc.media_type, f"{store.name}: manifest {desc.digest}")
            if manifest.config.digest == config_digest and len(manifest.layers) == layer_count:
                view = load_view(store, desc)
                assert isinstance(view, Image)
                return view
    return None


def _synthesise(store: ArchiveStore, entry: dict, config_raw: bytes, config_digest: str) -> Image:
    """An OCI manifest for a plain ``docker save`` entry: layer digests are the files' hashes."""
    store.by_digest[config_digest] = store.resolve(entry["Config"])
    layers = []
    for member in entry["Layers"]:
        with store.open_member(member) as f:
            head = f.read(4)
        with store.open_member(member) as f:
            digest, size = digest_stream(f)
        store.by_digest[digest] = store.resolve(member)
        layers.append(Descriptor(_LAYER_TYPES[sniff_compression(head)], digest, size))
    config = Descriptor(mt.OCI_CONFIG, config_digest, len(config_raw))
    manifest = Manifest.build(config, layers)
    image = Image(manifest, store, config_bytes=config_raw)
    for i, (layer, desc) in enumerate(zip(image.layers, layers)):
        if layer.compression is None and layer.diff_id != desc.digest:
            raise DigestMismatchError(f"{store.name}: layer {entry['Layers'][i]} hashes to {desc.digest}, "
                                      f"but the config's diff_id is {layer.diff_id}")
    return image


class DockerArchiveSink:
    """Writes one image as a ``docker load``-able tarball, tagged ``name`` when given."""

    max_workers = 1          # a tar is written sequentially
    supports_index = False

    def __init__(self, path: str | os.PathLike, name: str | None = None):
        self.path = Path(path)
        self.name = f"docker-archive:{self.path}"
        self.repo_tag = familiar_tag(name) if name else None
        if self.path.is_dir():
            raise ImageError(f"{self.name}: is a directory")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent)
        self._file = os.fdopen(fd, "wb")
        self._tar = tarfile.open(fileobj=self._file, mode="w", format=tarfile.PAX_FORMAT)
        self._lock = threading.Lock()
        self._written: set[str] = set()
        self._root: tuple[bytes, Descriptor] | None = None

    def _add(self, member: str, size: int, stream: BinaryIO) -> None:
        info = tarfile.TarInfo(member)
        info.size, info.mode, info.mtime = size, 0o644, 0
        self._tar.addfile(info, stream)
        if stream.read(1):       # tarfile stops at size; this read also triggers verification at EOF
            raise DigestMismatchError(f"{self.name}: {member} is longer than its {size} bytes")

    def has_blob(self, descriptor: Descriptor) -> bool:
        return descriptor.digest in self._written

    def put_blob(self, descriptor: Descriptor, opener: Opener, origin: Origin | None = None) -> None:
        algorithm, encoded = parse_digest(descriptor.digest)
        with self._lock, opener() as src:
            if descriptor.digest in self._written:
                return
            self._add(f"blobs/{algorithm}/{encoded}", descriptor.size, src)
            self._written.add(descriptor.digest)

    def put_manifest(self, raw: bytes, descriptor: Descriptor, *, root: bool) -> None:
        from mason.oci.digest import VerifyingReader

        if not mt.is_manifest(descriptor.media_type):
            raise ImageError(f"{self.name}: holds single-platform images only, not {descriptor.media_type}",
                             hint="choose one platform with --platform os/arch[/variant]")
        self.put_blob(descriptor, lambda: VerifyingReader(io.BytesIO(raw), descriptor.digest, descriptor.size,
                                                          f"{self.name}: manifest"))
        if root:
            self._root = (raw, descriptor)

    def commit(self) -> None:
        if self._root is None:
            raise ImageError(f"{self.name}: nothing was written")
        raw, desc = self._root
        manifest = parse_manifest(raw, desc.media_type)
        assert isinstance(manifest, Manifest)
        annotations = {}
        if self.repo_tag:
            annotations = {CONTAINERD_NAME: self.repo_tag, REF_NAME: self.repo_tag.rsplit(":", 1)[1]}
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                 "manifests": [Descriptor(desc.media_type, desc.digest, desc.size, annotations).to_dict()]}
        path_of = lambda d: "blobs/{}/{}".format(*parse_digest(d.digest))  # noqa: E731
        docker_manifest = [{"Config": path_of(manifest.config),
                            "RepoTags": [self.repo_tag] if self.repo_tag else [],
                            "Layers": [path_of(d) for d in manifest.layers]}]
        for member, body in (("oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"})),
                             ("index.json", canonical_json(index)),
                             ("manifest.json", canonical_json(docker_manifest))):
            self._add(member, len(body), io.BytesIO(body))
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.chmod(self._tmp, 0o644)
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
