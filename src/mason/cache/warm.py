"""``mason warm``'s work: put base images into ``--cache-dir`` before a build needs them.

Kaniko's warmer, with its flags: images named with ``--image`` and/or the bases of a
Dockerfile's stages (``--dockerfile`` with ``--build-arg``). Each is resolved for one
platform and stored as that platform's image (see ``mason.cache.basecache``); an entry
already present and younger than ``--cache-ttl`` is kept unless ``--force``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from mason.cache.basecache import BaseImageCache, platform_text
from mason.errors import UsageError


@dataclass(frozen=True)
class Warmed:
    image: str            # as named
    digest: str           # the platform image's manifest digest
    action: str           # "stored" | "kept" (already cached and fresh)


def dockerfile_bases(text: str, name: str, *, build_args: Mapping[str, str], platform) -> list[str]:
    """The external base images of every stage (not ``scratch``, not other stages)."""
    from mason.dockerfile import parse_dockerfile, plan_stages
    from mason.oci.platform import host_platform

    plan = plan_stages(parse_dockerfile(text, file=name), build_args=dict(build_args),
                       target_platform=platform_text(platform), build_platform=platform_text(host_platform()))
    bases = []
    for stage in plan.stages:
        if stage.base_stage is None and stage.base.lower() != "scratch" and stage.base not in bases:
            bases.append(stage.base)
    return bases


def warm(images: Sequence[str], cache_dir: Path, *, client_factory: Callable, platform, force: bool = False,
         ttl_seconds: float = 0, log: Callable[[str], None] = lambda m: None, routes=None, retries: int = 0,
         warn: Callable[[str], None] | None = None) -> list[Warmed]:
    """``routes`` (``mason.registry.mirrors.PullRoutes``) and ``retries`` apply as in a build's pulls;
    an image is cached under its digest, wherever it was pulled from."""
    from mason.image.routed import open_routed
    from mason.registry.mirrors import NO_ROUTES
    from mason.image.view import ImageIndex
    from mason.oci.reference import parse_reference

    cache = BaseImageCache(cache_dir)
    done: list[Warmed] = []
    for text in images:
        if text.startswith(("oci:", "docker-archive:")):
            raise UsageError(f"--image {text!r}: mason warm caches registry images; local images need no warming")
        ref = parse_reference(text)
        if ref.digest and not force:
            found = cache.find(ref.digest, platform, ttl_seconds=ttl_seconds)
            if found is not None:
                log(f"{text}: already in {cache.path} ({found.digest})")
                done.append(Warmed(text, found.digest, "kept"))
                continue
        view, _ = open_routed(client_factory(), ref, routes or NO_ROUTES, retries=retries, info=log,
                              warn=warn or log)
        names = []
        if isinstance(view, ImageIndex):
            names.append(cache.names_for(view.digest, platform)[1])
            view = view.select(platform)
        names.insert(0, view.digest)
        if not force and cache.find(view.digest, platform, ttl_seconds=ttl_seconds) is not None and len(names) == 1:
            log(f"{text}: already in {cache.path} ({view.digest})")
            done.append(Warmed(text, view.digest, "kept"))
            continue
        cache.store(view, names)
        log(f"{text}: stored {view.digest} in {cache.path}")
        done.append(Warmed(text, view.digest, "stored"))
    return done
