"""Building one stage: start from its base, then one instruction after another.

The loop owns the stage's ``StageState``; for each instruction it looks the step up once in
``mason.executor.steps.STEPS`` and hands it a frozen ``StepContext``. With the cache on, the
key records of every layer step are computed first (the steps' ``record``, on a scratch copy
of the config that replays each step's config ``effect``) and their lookups started at once;
a step then either replays its hit or executes. Every field of an instruction is either
acted on or refused by its step.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from mason.cache.keys import chain_start
from mason.cache.report import StepCacheInfo
from mason.dockerfile import onbuild_instructions
from mason.dockerfile.instructions import Instruction
from mason.dockerfile.scope import StageScope
from mason.dockerfile.stages import Stage, StagePlan
from mason.dockerfile.suggest import with_suggestion
from mason.errors import BuildError, MasonError, SourceRange
from mason.executor import events as ev
from mason.executor.buildcache import BuildCache, PlannedStep
from mason.executor.layers import BaseOrigin, CancellableStream, LayerRef, layer_refs_of
from mason.executor.layerstore import LayerStore
from mason.executor.settings import Settings
from mason.executor.skeletons import Skeletons
from mason.executor.stageconfig import StageConfig
from mason.executor.stagelayers import StageLayers, Strategy
from mason.executor.stagerun import StageCancelled
from mason.executor.stagestate import StageState, StepRecord
from mason.executor.steps import Runner, Sources, StepContext, step_for
from mason.fsops.sources import SourceTree
from mason.image.view import Image
from mason.oci import mediatypes as mt
from mason.oci.platform import Platform, parse_platform


@dataclass(frozen=True)
class StageServices:
    """What the stage loop gets from its build (one value for every stage of it)."""

    settings: Settings
    plan: StagePlan
    results: Mapping[int, StageState]             # finished stages (written by the scheduler)
    sources: Sources
    pull: Callable[[str, Platform | None], Image]
    strategy: Callable[[], Strategy]              # the snapshot strategy, chosen on first use
    strategy_chosen: Callable[[], Strategy | None]
    store: LayerStore
    skeletons: Skeletons
    scratch: Callable[..., Path]                  # WorkDir.sub
    runner: Callable[[], Runner]
    cache: BuildCache | None
    reporter: ev.Reporter
    cancel: threading.Event
    records: Callable[[int], list[StepRecord]]    # the step records of stage N


class BuildSources:
    """``Sources`` of a build: its context, its finished stages, images for its platform."""

    def __init__(self, context: SourceTree, plan: StagePlan, results: dict[int, StageState],
                 pull: Callable[[str, Platform | None], Image]):
        self._context, self._plan, self._results, self._pull = context, plan, results, pull

    @property
    def context(self) -> SourceTree:
        return self._context

    def stage(self, ref: str) -> StageState | None:
        index = stage_index(self._plan, ref)
        if index is None:
            return None
        if index not in self._results:
            raise BuildError(f"--from={ref}: stage not built yet (is it after this one?)")
        return self._results[index]

    def image(self, ref: str) -> Image:
        try:
            return self._pull(ref, None)
        except MasonError as exc:
            # a misspelt stage name reads as an image reference: say which stage was meant,
            # as BuildKit does when the image cannot be resolved
            names = [s.name for s in self._plan.stages if s.name]
            exc.message = with_suggestion(exc.message, ref, names, case_sensitive=False)
            exc.args = (exc.message,)
            raise


def stage_index(plan: StagePlan, ref: str) -> int | None:
    """The index of the stage named (or numbered) ``ref`` in ``plan``; None: not a stage."""
    for stage in plan.stages:
        if (stage.name is not None and stage.name.lower() == ref.lower()) or str(stage.index) == ref:
            return stage.index
    return None


def format_platform(p: Platform) -> str:
    return f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")


class StageBuilder:
    def __init__(self, services: StageServices, stage: Stage):
        self.services = services
        self.stage = stage
        self.state: StageState | None = None
        self._fs_after: list[bool] | None = None

    # --- base ------------------------------------------------------------------------------
    def _start(self) -> tuple[StageState, list[str]]:
        stage, svc = self.stage, self.services
        settings = svc.settings
        plat = settings.platform
        if stage.platform:
            # FROM --platform=…: this stage's base (and a scratch config) for that platform.
            try:
                plat = parse_platform(stage.platform)
            except MasonError as exc:
                raise BuildError(f"FROM --platform={stage.platform}: {exc}") from None
        key = None
        build_platform = format_platform(settings.platform)
        if stage.base_stage is not None:
            parent = svc.results[stage.base_stage]
            onbuild = list(parent.config.config.get("OnBuild") or [])
            config = StageConfig(parent.config.snapshot())
            layers = list(parent.layers)
            state = StageState(stage, layers, config, parent.docker_media, built_locally=parent.built_locally)
            adopt = getattr(svc.strategy_chosen(), "adopt", None)   # walk and host-root roots
            if adopt is not None:
                adopt(layers, parent.layers)
            base_text = f"stage {parent.stage.id}"
            if svc.cache is not None:
                # A FROM-only stage still has a key: its base's (Kaniko #1833).
                key = chain_start(platform=build_platform, stage_key=parent.cache_key)
        elif stage.base.lower() == "scratch":
            config = StageConfig(None, os_name=plat.os, architecture=plat.architecture, variant=plat.variant)
            state, onbuild, base_text = StageState(stage, [], config, False), [], "scratch"
            if svc.cache is not None:
                key = chain_start(platform=format_platform(plat), scratch=True)
        else:
            image = svc.pull(stage.base, plat)
            data = dict(image.config.data)
            onbuild = list((data.get("config") or {}).get("OnBuild") or [])
            config = StageConfig(data)
            docker = image.media_type == mt.DOCKER_MANIFEST
            base_text = f"{stage.base}@{image.digest}"
            at = stage.from_.location
            origin = BaseOrigin(SourceRange(at.file, at.start_line, at.end_line), stage.base, base_text)
            state = StageState(stage, _stoppable(layer_refs_of(image, origin), svc.cancel), config, docker)
            if svc.cache is not None:
                key = chain_start(platform=build_platform, base_digest=image.digest)
        state.cache_key = key
        config.ensure_default_path()
        svc.reporter.emit(ev.StageStarted(stage.id, base_text))
        return state, onbuild

    def run(self) -> StageState:
        state, triggers = self._start()
        self.state = state
        self.base_layer_count = len(state.layers)     # what --single-snapshot keeps as is
        svc = self.services
        self.layers = StageLayers(state, settings=svc.settings, strategy=svc.strategy, store=svc.store,
                                  skeletons=svc.skeletons, blobs=lambda: svc.scratch("blobs"),
                                  filesystem_needed_later=self.filesystem_needed_later)
        scope = state.scope = svc.plan.scope(self.stage, base_env=state.config.env)
        steps = onbuild_instructions(triggers, image=self.stage.base) if triggers else []
        expanded: list[tuple[Instruction, Any, StageScope, StageScope]] = []
        for instruction in [*steps, *self.stage.instructions]:
            try:
                done, after = scope.apply(instruction)
            except MasonError as exc:
                locate(exc, instruction)
                raise
            expanded.append((instruction, done, scope, after))
            scope = after
        # Whether a step after position k needs the stage's whole filesystem (see skeletons).
        self._fs_after = [False] * len(expanded)
        for k in range(len(expanded) - 2, -1, -1):
            self._fs_after[k] = self._fs_after[k + 1] or step_for(expanded[k + 1][1]).needs_filesystem
        plans = self._plan(expanded) if svc.cache is not None else [None] * len(expanded)
        for (instruction, done, _, after), planned in zip(expanded, plans):
            self._dispatch(instruction, done, after, planned)
        return state

    def filesystem_needed_later(self) -> bool:
        """True when a RUN or WORKDIR follows the current step in this stage (it will extract
        every lower layer anyway, so a skeleton now would be extra work)."""
        after, step = self._fs_after, self._state().step
        return after is None or step > len(after) or after[step - 1]

    def _state(self) -> StageState:
        assert self.state is not None, "the stage has started"
        return self.state

    def _context(self, instruction: Instruction, step_id: str, scope: StageScope,
                 config: StageConfig) -> StepContext:
        svc, state = self.services, self._state()
        loc = f"{instruction.location.file}:{instruction.location.start_line}"
        return StepContext(settings=svc.settings, stage=self.stage, step_id=step_id, location=loc, scope=scope,
                           config=config, docker_media=state.docker_media, layers=self.layers,
                           sources=svc.sources, runner=svc.runner, cache=svc.cache, reporter=svc.reporter,
                           cancel=svc.cancel, scratch=svc.scratch)

    # --- keys ------------------------------------------------------------------------------
    def _plan(self, expanded: list[tuple[Instruction, Any, StageScope, StageScope]]) -> list[PlannedStep | None]:
        """Key every layer step of the stage before any runs, simulating the config effects
        in between on a scratch copy of the config, and start the lookups of all known keys."""
        cache, state = self.services.cache, self._state()
        assert cache is not None
        cfg = StageConfig(state.config.snapshot())
        parent = state.cache_key
        out: list[PlannedStep | None] = []
        for number, (ins, done, before, _) in enumerate(expanded, 1):
            step = step_for(done)
            if not step.makes_layer:
                step.effect(done, cfg)
                out.append(None)
                continue
            ctx = self._context(ins, self._step_id(number), before, cfg)
            try:
                planned = PlannedStep(step.record(done, ctx), step.history(done, ctx),
                                      step.cacheable(self.services.settings))
            except MasonError as exc:
                locate(exc, ins)
                raise
            parent = cache.plan(planned, parent)
            step.effect(done, cfg)
            out.append(planned)
        return out

    def _step_id(self, number: int) -> str:
        return f"{self.stage.index + 1}/{number}"

    # --- dispatch --------------------------------------------------------------------------
    def _dispatch(self, instruction: Instruction, expanded: Any, scope_after: StageScope,
                  planned: PlannedStep | None) -> None:
        svc, state = self.services, self._state()
        state.step += 1
        step_id = self._step_id(state.step)
        ctx = self._context(instruction, step_id, scope_after, state.config)
        loc = ctx.location
        text = " ".join(instruction.original.split()) if instruction.original else instruction.name
        if svc.cancel.is_set():
            # A sibling stage failed (or the build is stopping): stop before the next step.
            raise StageCancelled(f"{loc}: stage {self.stage.id} stopped: another stage failed")
        record = StepRecord(step_id, text, loc)
        svc.records(self.stage.index).append(record)
        svc.reporter.emit(ev.StepStarted(step_id, self.stage.id, text, loc))
        started = time.monotonic()
        state.scope = scope_after
        step = step_for(expanded)
        try:
            if planned is None:
                layer = step.execute(expanded, ctx)
            else:
                layer = self._cached_step(expanded, ctx, planned, record)
        except MasonError as exc:
            locate(exc, instruction)
            raise
        record.seconds = time.monotonic() - started
        if layer is not None:
            record.layer_digest, record.layer_size = layer.descriptor.digest, layer.descriptor.size
        if svc.cache is not None:
            self._report(expanded, record, planned)
        svc.reporter.emit(ev.StepFinished(step_id, record.seconds, record.cache,
                                          record.layer_digest, record.layer_size, record.cache_key))

    def _cached_step(self, ins: Any, ctx: StepContext, planned: PlannedStep, record: StepRecord) -> LayerRef | None:
        """A layer step with the cache on: reuse the entry for its key, or run it and store it."""
        state, cache, step = self._state(), self.services.cache, step_for(ins)
        assert cache is not None
        key = cache.key_after(planned, state.cache_key)
        usable = key is not None and planned.cacheable
        entry = cache.lookups.result(key) if usable and not self._no_cache() else None
        record.cache_key = key
        if entry is not None:
            record.cache = "hit"
            layer = step.replay(ins, ctx, entry)
        else:
            record.cache = "miss" if key is not None and planned.cacheable else "none"
            layer = step.execute(ins, ctx)
            state.built_locally = True
            history = state.config.doc["history"]
            cache.store_entry(planned, layer, history[-1].get("created") if history else None)
        state.cache_key = cache.chain_after(state.cache_key, planned, ins.name, layer)
        return layer

    def _no_cache(self) -> bool:
        """This stage is in ``--no-cache-filter``: its steps run (and are stored) even on a hit."""
        names = self.services.settings.options.no_cache_stages
        stage = self.stage
        return bool(names) and any(n.lower() == (stage.name or "").lower() or n == str(stage.index) for n in names)

    def _report(self, ins: Any, record: StepRecord, planned: PlannedStep | None) -> None:
        cache = self.services.cache
        assert cache is not None
        info = StepCacheInfo(record.step_id, self.stage.id, record.instruction, record.location, record.cache,
                             record.cache_key)
        if planned is not None:
            info.parent, info.inputs = planned.parent, dict(planned.inputs)
            if planned.record is None:
                info.reason = "not cacheable: its output is known only after it runs (ADD of a URL " \
                              "without --checksum, or of a git repository at an abbreviated commit)"
            elif not planned.cacheable:
                info.reason = step_for(ins).not_cached_reason
        else:
            info.reason = "changes only the image config"
        cache.stage_steps(self.stage.index).append(info)


def _stoppable(refs: list[LayerRef], cancel: threading.Event) -> list[LayerRef]:
    """Base layers whose blob reads fail once ``cancel`` is set, so a stage extracting its
    base stops within one read when a sibling stage fails (the store drops the partial dir)."""

    def stopped() -> Exception:
        return StageCancelled("layer extraction stopped: the build is stopping")

    def wrap(opener: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: CancellableStream(opener(), cancel, stopped)

    return [replace(ref, opener=wrap(ref.opener)) for ref in refs]


def locate(exc: MasonError, instruction: Instruction) -> None:
    """Attach the Dockerfile location to an error that does not have one yet: as a
    ``SourceRange`` (the instruction's lines) and, for people reading the text, as a prefix."""
    if exc.of_the_build:
        return  # not this instruction's (the push pre-flight's, met where a step waited for it)
    if exc.source is not None and f"{exc.source.file}:{exc.source.start_line}:" in exc.message:
        return  # located already, elsewhere (a base layer's error at its FROM line)
    loc = instruction.location
    lines = f"{loc.start_line}-{loc.end_line}" if loc.end_line > loc.start_line else str(loc.start_line)
    where = f"{loc.file}:{lines}"
    if exc.source is None:
        exc.source = SourceRange(loc.file, loc.start_line, loc.end_line)
    if getattr(exc, "line", None) is None and f"{loc.file}:{loc.start_line}" not in exc.message:
        exc.message = f"{where}: {instruction.name}: {exc.message}"
        exc.args = (exc.message,)
