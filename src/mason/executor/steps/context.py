"""What a step sees: a small frozen ``StepContext``, and the ``Step`` every instruction kind is.

A step never holds the build. It gets the parsed options, its stage and the stage's scope
and config, a ``LayerView`` (the stage's filesystem: roots to write into and read from, and
``commit`` to turn changes into a layer), ``Sources`` (the context, this build's finished
stages, images), a runner for RUN, the cache, the reporter and the cancellation event. The
stage loop (``mason.executor.stagebuilder``) makes one context per step; tests make them
with a fake runner and an in-memory layer view (``tests/unit/executor``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Protocol

from mason.cache.store import CacheEntry
from mason.dockerfile.instructions import Instruction
from mason.dockerfile.scope import StageScope
from mason.dockerfile.stages import Stage
from mason.executor.buildcache import BuildCache
from mason.executor.events import Reporter
from mason.executor.layers import LayerRef
from mason.executor.rootfs import StepFS
from mason.executor.settings import Settings
from mason.executor.stageconfig import StageConfig
from mason.executor.stagestate import StageState
from mason.fsops.deferred import DeferredFiles
from mason.fsops.sources import SourceTree
from mason.image.view import Image

if TYPE_CHECKING:   # named only: the RUN step makes it (mason.executor.steps.run)
    from mason.sandbox.spec import RunSpec


class Runner(Protocol):
    """Runs one RUN command (``mason.sandbox.runner``); ``output`` gets (stream, line)."""

    name: str    # the isolation level it applies: "namespaces", "chroot" or "host-root"

    def run(self, spec: RunSpec, output: Callable[[str, str], None], *,
            cancel: threading.Event | None = None) -> int: ...


class LayerView(Protocol):
    """The filesystem of the stage a step belongs to."""

    @property
    def layers(self) -> list[LayerRef]:
        """The stage's layers so far, bottom first."""
        ...

    def step(self, lowers: list[LayerRef], *, base_visible: bool = True) -> ContextManager[StepFS]:
        """A writable root over ``lowers`` (empty when not ``base_visible``: COPY --link)."""
        ...

    def view(self, layers: list[LayerRef], *, only: tuple[str, ...] | None = None) -> ContextManager[Path]:
        """A root to read ``layers`` from (COPY --from, bind mounts); writes are discarded.
        ``only``: the in-root paths the reader needs, when it knows them (a hint)."""
        ...

    def commit(self, fs: StepFS, created_by: str, deferred: DeferredFiles | None = None, *,
               empty_layer: bool = True) -> LayerRef | None:
        """The step's changes as the stage's next layer and history entry; an empty layer when
        nothing changed (None instead with ``empty_layer=False``)."""
        ...

    def add_cached(self, entry: CacheEntry, created_by: str) -> LayerRef | None:
        """A cache hit's layer (no directory) and history entry, as ``commit`` would add them."""
        ...

    def deferred(self) -> DeferredFiles | None:
        """A recorder for a COPY's files (layer streamed from the sources), or None."""
        ...

    def touching(self, layers: list[LayerRef], sources: list[str]) -> list[str] | None:
        """diff_ids of the ``layers`` that can change what ``sources`` copy, or None when that
        cannot be told without reading the files (``mason.executor.touching``)."""
        ...

    def skeleton_lowers(self) -> tuple[list[LayerRef], frozenset[str]]:
        """The stage's layers with unextracted ones replaced by skeletons, and the paths
        those hide (``mason.executor.directcopy``)."""
        ...


class Sources(Protocol):
    """Where a step's inputs come from, besides its own stage."""

    @property
    def context(self) -> SourceTree:
        """The build context after ``.dockerignore``."""
        ...

    def stage(self, ref: str) -> StageState | None:
        """This build's finished stage named (or numbered) ``ref``; None when no stage is."""
        ...

    def image(self, ref: str) -> Image:
        """The image ``ref`` for the build's platform."""
        ...


@dataclass(frozen=True)
class StepContext:
    """Everything one step may use; made by the stage loop for each step."""

    settings: Settings
    stage: Stage
    step_id: str                      # "<stage number>/<step number>", as the log shows it
    location: str                     # "Dockerfile:LINE"
    scope: StageScope                 # the variables the step sees
    config: StageConfig               # the stage's config (a scratch copy when planning keys)
    docker_media: bool                # the stage's image uses Docker media types
    layers: LayerView
    sources: Sources
    runner: Callable[[], Runner]      # chosen on first use: an all-hits build starts no sandbox
    cache: BuildCache | None
    reporter: Reporter
    cancel: threading.Event
    scratch: Callable[..., Path]      # a fresh directory of the build's work dir (WorkDir.sub)


class Step:
    """One instruction kind: its key record, history text, execution and cache replay.

    ``makes_layer`` steps (RUN, COPY, ADD, WORKDIR) have a cache key; the others only
    change the config and add an ``empty_layer`` history entry.
    """

    kind = "?"
    makes_layer = False
    needs_filesystem = False          # it reads the stage's whole tree (RUN, WORKDIR)
    not_cached_reason = ""            # the report's reason when the cache leaves it out

    def history(self, ins: Any, ctx: StepContext) -> str:
        """The history ``created_by``: identical whether the step ran or hit."""
        return original_text(ins)

    def record(self, ins: Any, ctx: StepContext) -> dict[str, Any] | None:
        """The cache key record (None: the output is known only after the step ran)."""
        raise AssertionError(f"{ins.name} is not a layer step")

    def cacheable(self, settings: Settings) -> bool:
        """Whether its layers are looked up and stored (--cache-run-layers / -copy-layers)."""
        return False

    def effect(self, ins: Any, config: StageConfig) -> None:
        """The step's effect on the config alone (replayed when keys are planned and on a hit)."""

    def execute(self, ins: Any, ctx: StepContext) -> LayerRef | None:
        raise NotImplementedError

    def replay(self, ins: Any, ctx: StepContext, entry: CacheEntry) -> LayerRef | None:
        """A cache hit: the config effect and history as if it ran, the layer from the cache
        (no directory: downloaded and extracted only if a later step needs the filesystem)."""
        self.effect(ins, ctx.config)
        return ctx.layers.add_cached(entry, self.history(ins, ctx))


def original_text(ins: Instruction) -> str:
    """The instruction as written, whitespace collapsed (BuildKit's history text)."""
    return " ".join(ins.original.split()) if ins.original else ins.name
