"""One code path for every copy: pull (registry -> layout), push (layout -> registry),
registry -> registry, anything -> docker-archive.

Blobs are streamed source -> sink (never spooled to disk for registry -> registry) by a bounded
thread pool; a manifest is written only after every blob it names is present, children before
the index that lists them, so a destination never references missing content.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mason.errors import ImageError
from mason.oci.descriptor import Descriptor
from mason.oci.platform import Platform, host_platform
from mason.image.sink import Sink
from mason.image.view import Image, ImageIndex

DEFAULT_JOBS = 4


@dataclass
class CopyResult:
    """What an image copy wrote and which blobs the target already had."""

    descriptor: Descriptor                     # the root written (manifest or index)
    blobs_copied: list[str] = field(default_factory=list)
    blobs_skipped: list[str] = field(default_factory=list)


def narrow(view: Image | ImageIndex, sink: Sink, *, platform: Platform | None = None,
           all_platforms: bool = False) -> Image | ImageIndex:
    """Decide what to copy: the whole index, or one platform's image from it.

    ``--platform`` selects one image; ``--all`` (and the default, when the sink can hold an
    index) keeps the index so the digest is unchanged. A sink that cannot hold an index
    (docker-archive) gets the host platform's image unless ``--all`` was asked, which is refused.
    """
    if platform is not None and all_platforms:
        raise ImageError("choose either --all or --platform, not both")
    if not isinstance(view, ImageIndex):
        if platform is not None and not platform.matches(view.platform):
            raise ImageError(f"{view.name} is a single-platform image for {view.platform}, not {platform}")
        return view
    if platform is not None:
        return view.select(platform)
    if sink.supports_index:
        return view
    if all_platforms:
        raise ImageError(f"{sink.name} holds single-platform images only; {view.name} is a multi-platform index",
                         hint="choose one platform with --platform os/arch[/variant]")
    return view.select(host_platform())


def copy(view: Image | ImageIndex, sink: Sink, *, platform: Platform | None = None,
         all_platforms: bool = False, jobs: int = DEFAULT_JOBS,
         logger: logging.Logger | None = None) -> CopyResult:
    """Copy ``view`` into ``sink``; returns the root descriptor written."""
    log = logger or logging.getLogger("mason.copy")
    view = narrow(view, sink, platform=platform, all_platforms=all_platforms)
    result = CopyResult(view.descriptor())
    workers = max(1, min(jobs, sink.max_workers))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mason-copy")
    try:
        try:
            _copy_view(view, sink, pool, result, log, root=True)
        except BaseException as exc:
            # An interrupt (SIGINT/SIGTERM) must not wait for uploads stuck on a slow registry:
            # queued blobs are cancelled and running ones abandoned (no manifest follows them).
            pool.shutdown(wait=isinstance(exc, Exception), cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return result


def _copy_view(view, sink: Sink, pool: ThreadPoolExecutor, result: CopyResult, log, *, root: bool) -> None:
    if isinstance(view, ImageIndex):
        for child in view.children():
            _copy_view(child, sink, pool, result, log, root=False)
    else:
        futures = [pool.submit(_copy_blob, view, d, sink, result, log) for d in view.blobs()]
        errors = []
        for f in futures:       # wait for all, so no upload is left running behind an error
            try:
                f.result()
            except Exception as exc:  # an interrupt is not waited out: it propagates at once
                errors.append(exc)
        if errors:
            raise errors[0]
    sink.put_manifest(view.manifest_bytes, view.descriptor(), root=root)


def _copy_blob(image: Image, descriptor: Descriptor, sink: Sink, result: CopyResult, log) -> None:
    if sink.has_blob(descriptor):
        log.debug("%s: %s already present", sink.name, descriptor.digest)
        result.blobs_skipped.append(descriptor.digest)
        return
    log.debug("%s: copying %s (%d bytes)", sink.name, descriptor.digest, descriptor.size)
    sink.put_blob(descriptor, lambda: image.open_blob(descriptor), image.origin_of(descriptor))
    result.blobs_copied.append(descriptor.digest)
