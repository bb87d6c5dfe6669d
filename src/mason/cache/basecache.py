"""Base images kept in ``--cache-dir`` (filled by ``mason warm``), so that a
``FROM image@sha256:…`` needs no registry at all.

Layout: ``<cache-dir>/images/`` is one OCI image layout. Each warmed image is stored as the
single-platform image the build will use (manifest, config, layers as pulled, never
recompressed) and named, with ``org.opencontainers.image.ref.name``, by

* its manifest digest (``sha256:…``), and
* when it was chosen from a multi-platform index, ``<index digest>|<os/arch[/variant]>``,

so both forms of a pinned FROM find it. An entry older than the TTL (the age of its
manifest file, i.e. when it was warmed) counts as absent. Tag references are not served from
here: a tag can move, and only the registry knows where it points now.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mason.errors import ImageError


def platform_text(p) -> str:
    return f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")


class BaseImageCache:
    def __init__(self, cache_dir: Path | str, *, clock=time.time):
        self.path = Path(cache_dir) / "images"
        self.clock = clock

    def names_for(self, digest: str, platform) -> tuple[str, str]:
        return digest, f"{digest}|{platform_text(platform)}"

    def find(self, digest: str, platform, *, ttl_seconds: float = 0):
        """The cached single-platform image for ``digest`` (a manifest or an index digest)."""
        from mason.image.layout import LayoutStore, read_index_json
        from mason.image.view import Image, load_view

        if not (self.path / "index.json").exists():
            return None
        wanted = self.names_for(digest, platform)
        found = [d for d in read_index_json(self.path).manifests if d.ref_name in wanted]
        if not found:
            return None
        store = LayoutStore(self.path)
        descriptor = found[-1]
        try:
            age = self.clock() - os.stat(store.blob_path(descriptor.digest)).st_mtime
            view = load_view(store, descriptor)
        except (OSError, ImageError):
            return None     # damaged or half-deleted entry: pull from the registry instead
        if ttl_seconds and age > ttl_seconds:
            return None
        if not isinstance(view, Image):
            return None
        if not platform.matches(view.platform):
            return None
        return view

    def store(self, image, names: list[str]) -> None:
        """Write ``image`` (with its layers) under every name in ``names``."""
        from mason.image.copy import copy
        from mason.image.layout import LayoutSink

        for name in names:
            copy(image, LayoutSink(self.path, name))
        # Re-touch the manifest so the TTL counts from this warm (the blob may be older).
        from mason.image.layout import LayoutStore

        os.utime(LayoutStore(self.path).blob_path(image.digest))
