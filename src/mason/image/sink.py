"""The Sink protocol: what :func:`mason.image.copy.copy` needs from a destination.

Copy calls, in order: ``has_blob``/``put_blob`` for every blob (possibly from several threads,
up to ``max_workers``), ``put_manifest`` for child manifests then the root (``root=True``),
and finally ``commit``. On any failure it calls ``abort`` instead, so a sink never leaves a
half-written destination that looks complete.
"""

from __future__ import annotations

from typing import Protocol

from mason.oci.descriptor import Descriptor
from mason.image.view import Opener, Origin


class Sink(Protocol):
    name: str
    max_workers: int           # 1 for sinks that write sequentially (tarballs)
    supports_index: bool       # False: an index must be narrowed to one platform first

    def has_blob(self, descriptor: Descriptor) -> bool: ...

    def put_blob(self, descriptor: Descriptor, opener: Opener, origin: Origin | None) -> None:
        """Store the blob; ``opener()`` returns a stream that verifies itself at EOF."""

    def put_manifest(self, raw: bytes, descriptor: Descriptor, *, root: bool) -> None:
        """Store a manifest whose blobs are all present; ``root`` is the one to name/tag."""

    def commit(self) -> None: ...

    def abort(self) -> None: ...
