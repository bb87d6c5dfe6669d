"""Where cache entries live: a registry repository (Kaniko's layout) or an OCI layout.

One entry = one small image tagged with the key's hex, as Kaniko stores them, so
registries' retention policies and cleanup jobs keep working:

* zero or one layer: the step's blob exactly as the build wrote it (zero when the step
  changed nothing, so that step hits too);
* a config whose ``history`` records the step's ``created_by`` and whose ``rootfs`` its
  diff_id, plus a ``mason.cache`` object: the key, when the entry was made (entries older
  than the TTL are misses), and the step's inputs (their digests, for the report).

Documents (the previous build's record for the cache report, ``COPY --from`` memos) are
entries without layers whose ``mason.cache.document`` holds the JSON.

``CacheStore`` is the protocol the build uses; ``RegistryCacheStore`` and
``LayoutCacheStore`` implement it over ``mason.registry`` and ``mason.image.layout``.
Entries are never trusted blindly: an entry whose recorded key differs from its tag is a miss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Protocol

from mason.cache.keys import key_hex
from mason.errors import ImageError, NotFoundError, UsageError
from mason.image.assemble import build_image
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor

ENTRY_VERSION = 1
FIELD = "mason.cache"


@dataclass(frozen=True)
class CacheEntry:
    """A hit: the layer to reuse (``layer`` None when the step changed nothing)."""

    key: str
    layer: Descriptor | None
    diff_id: str | None
    created_by: str
    created: float                      # unix time the entry was written
    opener: Callable[[], BinaryIO] | None = field(default=None, repr=False, compare=False)
    origin: object | None = None        # mason.image.view.Origin of the blob, for mounts
    inputs: dict = field(default_factory=dict, compare=False)
    history_created: str | None = None  # the history time of the build that made the layer


@dataclass(frozen=True)
class NewEntry:
    """What a miss stores: ``layer`` is a LayerRef-like object (descriptor, diff_id, opener)."""

    key: str
    layer: Any | None
    created_by: str
    inputs: dict = field(default_factory=dict)
    history_created: str | None = None


def _text(value) -> str | None:
    """A stored string field, or None (absent in entries older than the field, or not a string)."""
    return value if isinstance(value, str) and value else None


class CacheStore(Protocol):
    name: str

    def get(self, key: str) -> CacheEntry | None: ...

    def put(self, entry: NewEntry) -> None: ...

    def get_document(self, tag: str) -> dict | None: ...

    def put_document(self, tag: str, document: dict) -> None: ...


class _ImageEntryStore:
    """Entry encoding shared by the backends; a backend reads and writes tagged images."""

    def __init__(self, *, name: str, ttl_seconds: float, platform: tuple[str, str],
                 clock: Callable[[], float] = time.time):
        self.name = name
        self.ttl = ttl_seconds
        self.os, self.architecture = platform
        self.clock = clock

    # -- backend seam -----------------------------------------------------------------------
    def _read(self, tag: str):             # -> mason.image.Image | None
        raise NotImplementedError

    def _write(self, tag: str, image) -> None:
        raise NotImplementedError

    # -- entries ----------------------------------------------------------------------------
    def get(self, key: str) -> CacheEntry | None:
        image = self._read(key_hex(key))
        if image is None:
            return None
        meta = image.config.data.get(FIELD)
        if not isinstance(meta, dict) or meta.get("key") != key or meta.get("version") != ENTRY_VERSION:
            return None         # not ours, another version, or a tag pointing elsewhere: a miss
        created = float(meta.get("created_unix") or 0)
        if self.ttl and self.clock() - created > self.ttl:
            return None
        if len(image.layers) > 1:
            return None
        if image.layers:
            layer = image.layers[0]
            return CacheEntry(key, layer.descriptor, layer.diff_id, str(meta.get("created_by", "")), created,
                              layer.open, image.origin_of(layer.descriptor), dict(meta.get("inputs") or {}),
                              _text(meta.get("history_created")))
        return CacheEntry(key, None, None, str(meta.get("created_by", "")), created, None, None,
                          dict(meta.get("inputs") or {}), _text(meta.get("history_created")))

    def put(self, entry: NewEntry) -> None:
        layer = entry.layer
        meta = {"version": ENTRY_VERSION, "key": entry.key, "created_by": entry.created_by,
                "created_unix": int(self.clock()), "diff_id": layer.diff_id if layer else None,
                "inputs": entry.inputs, "history_created": entry.history_created}
        docker = layer is not None and layer.descriptor.media_type in (mt.DOCKER_LAYER, mt.DOCKER_LAYER_GZIP)
        self._write(key_hex(entry.key), self._image(meta, [layer] if layer else [], entry.created_by, docker))

    def get_document(self, tag: str) -> dict | None:
        image = self._read(tag)
        if image is None:
            return None
        meta = image.config.data.get(FIELD)
        if not isinstance(meta, dict) or not isinstance(meta.get("document"), dict):
            return None
        created = float(meta.get("created_unix") or 0)
        if self.ttl and self.clock() - created > self.ttl:
            return None
        return meta["document"]

    def put_document(self, tag: str, document: dict) -> None:
        meta = {"version": ENTRY_VERSION, "created_unix": int(self.clock()), "document": document}
        self._write(tag, self._image(meta, [], "mason cache document", False))

    def _image(self, meta: dict, layers: list, created_by: str, docker: bool):
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(meta["created_unix"]))
        config = {"architecture": self.architecture, "os": self.os, "created": created,
                  "config": {"Labels": {"dev.mason.cache": "1"}},
                  "rootfs": {"type": "layers", "diff_ids": [ref.diff_id for ref in layers]},
                  "history": [{"created": created, "created_by": created_by,
                               **({} if layers else {"empty_layer": True})}],
                  FIELD: meta}
        return build_image(config, layers, docker_media=docker, name=f"{self.name} (cache entry)")


class RegistryCacheStore(_ImageEntryStore):
    """Entries in a registry repository, e.g. ``registry.example.com/app/cache:<key hex>``."""

    def __init__(self, client, repository: str, **kw):
        from mason.oci.reference import parse_reference

        self.client = client
        self.ref = parse_reference(repository).repo()
        if "@" in repository or ":" in repository.rsplit("/", 1)[-1]:
            raise UsageError(f"--cache-repo {repository!r}: name a repository, without tag or digest")
        super().__init__(name=self.ref.name, **kw)

    def _read(self, tag: str):
        from mason.image.remote import open_remote
        from mason.image.view import Image

        try:
            view = open_remote(self.client, self.ref.with_tag(tag))
        except NotFoundError:
            return None
        return view if isinstance(view, Image) else None

    def _write(self, tag: str, image) -> None:
        from mason.image.copy import copy
        from mason.image.remote import RemoteSink

        copy(image, RemoteSink(self.client, self.ref.with_tag(tag), max_workers=2), jobs=2)


class LayoutCacheStore(_ImageEntryStore):
    """Entries in a local OCI layout (``--cache-repo=oci:/path``), named by ref name."""

    def __init__(self, path: str, **kw):
        from pathlib import Path

        self.path = Path(path)
        super().__init__(name=f"oci:{self.path}", **kw)

    def _read(self, tag: str):
        from mason.image.layout import LayoutStore, read_index_json
        from mason.image.view import Image, load_view

        if not (self.path / "index.json").exists():
            return None
        found = [d for d in read_index_json(self.path).manifests if d.ref_name == tag]
        if not found:
            return None
        try:
            view = load_view(LayoutStore(self.path), found[-1])
        except ImageError:
            return None     # a damaged entry is a miss, never a failed build
        return view if isinstance(view, Image) else None

    def _write(self, tag: str, image) -> None:
        from mason.image.copy import copy
        from mason.image.layout import LayoutSink

        copy(image, LayoutSink(self.path, tag), jobs=2)


def open_store(repo: str, *, client_factory: Callable[[], Any], ttl_seconds: float,
               platform: tuple[str, str], clock: Callable[[], float] = time.time) -> CacheStore:
    """``oci:/path`` -> a layout store; anything else is a registry repository."""
    if repo.startswith("oci:"):
        path = repo[len("oci:"):]
        if not path:
            raise UsageError("--cache-repo=oci: needs a path, e.g. oci:/var/cache/mason")
        return LayoutCacheStore(path, ttl_seconds=ttl_seconds, platform=platform, clock=clock)
    return RegistryCacheStore(client_factory(), repo, ttl_seconds=ttl_seconds, platform=platform, clock=clock)
