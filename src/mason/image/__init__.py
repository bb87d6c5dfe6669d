"""Image views and where they live.

An :class:`~mason.image.view.Image` is a read-only view (manifest, config, layers) whatever its
backing: a registry, an OCI layout directory, a docker-archive tarball, memory or ``scratch``.
Sources produce views; sinks accept them; :func:`mason.image.copy.copy` moves one to the other.
"""

from mason.image.copy import CopyResult, copy
from mason.image.docker_archive import DockerArchiveSink, open_docker_archive
from mason.image.layout import LayoutSink, open_layout
from mason.image.location import Location, open_sink, open_source, parse_location
from mason.image.memory import MemoryStore, memory_image, scratch_image
from mason.image.remote import RemoteSink, open_remote
from mason.image.validate import validate
from mason.image.view import BlobStore, Image, ImageIndex, Layer, Origin

__all__ = ["BlobStore", "CopyResult", "DockerArchiveSink", "Image", "ImageIndex", "LayoutSink", "Layer",
           "Location", "MemoryStore", "Origin", "RemoteSink", "copy", "memory_image", "open_docker_archive",
           "open_layout", "open_remote", "open_sink", "open_source", "parse_location", "scratch_image", "validate"]
