"""Building a bake file's images: dependency order, independent images in parallel.

Each image is one ``run_build`` call with its own ``BuildOptions`` and its own work dir:
builds share nothing but the extracted-layer store (``cache_dir``, safe for concurrent
builds: entries are extracted once under a lock and never written afterwards) and the
registry. So building image-b after (or while) building image-a cannot see image-a's files,
which is what Kaniko could not promise inside one container.

Scheduling: an image starts when every image it depends on has *succeeded* (and, pushed,
can be pulled); at most ``jobs`` build at once (threads: the heavy work is in subprocesses,
the kernel and compression libraries that release the GIL). When an image fails, every
image that depends on it, directly or not, is skipped; the others go on.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from mason.bake.model import BakeFile, ImageSpec
from mason.executor.options import BuildOptions, RegistryAccess
from mason.errors import MasonError

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class ImageOutcome:
    name: str
    status: str = SKIPPED                 # ok | failed | skipped
    seconds: float = 0.0
    result: object | None = None          # the executor's BuildResult when ok
    error: BaseException | None = None    # why it failed
    blocked_by: str | None = None         # the failed image a skipped one depends on

    @property
    def exit_code(self) -> int:
        if self.status == OK:
            return 0
        if isinstance(self.error, MasonError):
            return self.error.exit_code
        return 1 if self.status == SKIPPED else 4


@dataclass(frozen=True)
class BakeSettings:
    """What every image's build shares (the bake command line's options)."""

    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    jobs: int = 2
    cache_dir: Path | None = None
    work_root: Path | None = None
    registry: RegistryAccess = field(default_factory=RegistryAccess)
    tls: object | None = field(default=None, compare=False)   # mason.tls.TlsTrust shared by every image
    allow: frozenset[str] = frozenset()       # --allow: the entitlements images may list (bake.entitlements)
    run_host_loopback: bool = False           # --run-host-loopback, for every image


def image_options(bake: BakeFile, image: ImageSpec, context_dir: Path, settings: BakeSettings,
                  context_dockerfile: Path | None = None) -> BuildOptions:
    """The ``BuildOptions`` of one image (the Dockerfile is relative to its context, unless the
    context URL returned a Dockerfile: ``context_dockerfile``, built as BuildKit builds it)."""
    return BuildOptions(
        context_dir=context_dir,
        dockerfile=context_dockerfile or context_dir / image.dockerfile,
        destinations=tuple(image.destinations),
        build_args=dict(image.build_args),
        target=image.target,
        platform=image.platform,
        labels=dict(image.labels),
        no_push=image.no_push,
        reproducible=image.reproducible,
        work_root=settings.work_root,
        cache_dir=settings.cache_dir,
        cache=image.cache,
        cache_repo=image.cache_repo,
        registry=settings.registry,
        tls=settings.tls,
        # exactly what the image lists (granted_per_image checked --allow covers it)
        allow=frozenset(image.entitlements) & settings.allow,
        run_host_loopback=settings.run_host_loopback,
    )


def build_image(bake: BakeFile, image: ImageSpec, settings: BakeSettings, *, reporter, executor) -> object:
    """Materialise the image's context (fetched ones vanish afterwards) and build it."""
    from mason.context.scoped import scoped_context

    context = image.context if image.context_is_url else str(bake.base_dir / image.context)
    with scoped_context(context, cwd=settings.cwd, env=settings.env,
                        scratch_parent=settings.work_root, tls=settings.tls) as scoped:
        options = image_options(bake, image, scoped.root, settings, scoped.dockerfile)
        return executor(options, reporter=reporter, env=settings.env)


def run_bake(bake: BakeFile, settings: BakeSettings, *, reporter_for: Callable[[str], object],
             executor: Callable | None = None,
             on_done: Callable[[ImageOutcome], None] | None = None) -> dict[str, ImageOutcome]:
    """Build every image of ``bake``; returns the outcome per image, in the bake file's order.

    ``reporter_for(name)`` gives the reporter for one image's events; ``on_done`` is called
    (from this thread) as each image finishes, fails or is skipped.
    """
    if executor is None:
        from mason.executor.executor import run_build as executor
    if settings.jobs < 1:
        from mason.errors import UsageError

        raise UsageError(f"--jobs {settings.jobs}: must be at least 1")
    outcomes = {name: ImageOutcome(name) for name in bake.images}
    pending = set(bake.images)
    running: dict[Future, str] = {}

    def finish(outcome: ImageOutcome) -> None:
        if on_done is not None:
            on_done(outcome)

    def skip_dependents() -> None:
        changed = True
        while changed:
            changed = False
            for name in sorted(pending):
                deps = bake.images[name].depends_on
                blocker = next((d for d in deps if outcomes[d].status in (FAILED, SKIPPED) and d not in pending
                                and d not in running.values()), None)
                if blocker is not None:
                    pending.discard(name)
                    outcomes[name].blocked_by = outcomes[blocker].blocked_by or blocker
                    finish(outcomes[name])
                    changed = True

    def timed(name: str):
        start = time.monotonic()
        try:
            return build_image(bake, bake.images[name], settings, reporter=reporter_for(name), executor=executor)
        finally:
            outcomes[name].seconds = time.monotonic() - start

    with ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="bake") as pool:
        while pending or running:
            for name in bake.order():
                if len(running) >= settings.jobs:
                    break
                if name in pending and all(outcomes[d].status == OK for d in bake.images[name].depends_on):
                    pending.discard(name)
                    running[pool.submit(timed, name)] = name
            if not running:   # everything left is blocked by a failure
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                outcome = outcomes[name]
                try:
                    outcome.result = future.result()
                    outcome.status = OK
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:   # one image's failure must not stop its siblings
                    outcome.status = FAILED
                    outcome.error = exc
                finish(outcome)
                if outcome.status == FAILED:
                    skip_dependents()
    return outcomes
