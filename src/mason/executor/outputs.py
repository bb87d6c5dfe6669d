"""Writing a build's image to every destination: registries, an OCI layout, a docker archive.

The image itself is assembled by ``mason.image.assemble``; nothing is recompressed here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from mason.image.copy import copy
from mason.image.view import Image
from mason.registry.operation_retry import retry_operation


@dataclass(frozen=True)
class Output:
    """One place the image goes: a registry reference, an OCI layout or a docker archive."""

    kind: str            # "registry" | "oci" | "docker-archive"
    target: str          # reference text or path
    sink_factory: Callable[[], object] = field(repr=False, compare=False)
    retries: int = 0     # --push-retry: times the whole write starts over after a registry failure


def write_outputs(image: Image, outputs: list[Output], *, jobs: int = 4,
                  warn: Callable[[str], None] = lambda message: None) -> list[tuple[str, str]]:
    """Write ``image`` to every output, concurrently; returns (target, manifest digest) pairs.

    A registry output gets its manifest only after all its blobs are in place (the sink's
    rule), so a failure never leaves a tag pointing at a half-pushed image.
    """
    def one(out: Output) -> tuple[str, str]:
        # A retry starts the copy over on a fresh sink: blobs already pushed are found by HEAD.
        result = retry_operation(lambda: copy(image, out.sink_factory(), jobs=jobs), out.retries,
                                 what=f"push to {out.target}", warn=warn)
        return out.target, result.descriptor.digest

    if len(outputs) <= 1:
        return [one(o) for o in outputs]
    pool = ThreadPoolExecutor(max_workers=min(4, len(outputs)))
    try:
        futures = [pool.submit(one, o) for o in outputs]
        results, errors = [], []
        for f in futures:
            try:
                results.append(f.result())
            except Exception as exc:  # wait for every push before reporting
                errors.append(exc)
    except BaseException:
        # an interrupt: do not wait for pushes stuck on a registry (their manifests never follow)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if errors:
        raise errors[0]
    return results
