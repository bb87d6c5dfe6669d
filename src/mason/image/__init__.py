"""Image views and where they live.

An :class:`~mason.image.view.Image` is a read-only view (manifest, config, layers) whatever its
backing: a registry, an OCI layout directory, a docker-archive tarball, memory or ``scratch``.
Sources produce views; sinks accept them; :func:`mason.image.copy.copy` moves one to the other.
"""

from typing import TYPE_CHECKING

from mason.image.copy import CopyResult, copy
from mason.image.location import Location, open_sink, open_source, parse_location
from mason.image.remote import RemoteSink, open_remote
from mason.image.validate import validate
from mason.image.view import BlobStore, Image, ImageIndex, Layer, Origin
from mason.lazyexports import lazy_exports

# Imported at first use (PEP 562), as mason.image.location and the caches already import
# them: a build that reads and pushes only registry images never loads the docker-archive
# (tarfile), OCI-layout or in-memory stores.
_LAZY = {"DockerArchiveSink": "mason.image.docker_archive", "open_docker_archive": "mason.image.docker_archive",
         "LayoutSink": "mason.image.layout", "open_layout": "mason.image.layout",
         "MemoryStore": "mason.image.memory", "memory_image": "mason.image.memory",
         "scratch_image": "mason.image.memory"}

if TYPE_CHECKING:
    from mason.image.docker_archive import DockerArchiveSink, open_docker_archive
    from mason.image.layout import LayoutSink, open_layout
    from mason.image.memory import MemoryStore, memory_image, scratch_image


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = ["BlobStore", "CopyResult", "DockerArchiveSink", "Image", "ImageIndex", "LayoutSink", "Layer",
           "Location", "MemoryStore", "Origin", "RemoteSink", "copy", "memory_image", "open_docker_archive",
           "open_layout", "open_remote", "open_sink", "open_source", "parse_location", "scratch_image", "validate"]
