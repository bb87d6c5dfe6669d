"""The layer cache of one build (``--cache=true``): keys, lookups, hits, pushes, report.

Owned by one ``Build`` (never shared): its store, its lookup and push thread pools, its file
hash cache and the per-step report. ``plan_stage`` computes the keys of a whole stage before
any step runs and starts their lookups at once; ``StageBuilder`` then takes each step's
answer in order. ``finish`` waits for the background pushes and writes the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mason.executor import events as ev
from mason.cache.keys import chain_output, input_digests, step_key
from mason.cache.report import StepCacheInfo, explain, record_document, record_tag, write_report
from mason.dockerfile import instructions as di
from mason.errors import MasonError, UsageError

LAYER_STEPS = (di.Run, di.Copy, di.Add, di.Workdir)


@dataclass
class PlannedStep:
    """A layer step's cache plan: ``record`` None when its key depends on its output."""

    record: dict | None
    created_by: str
    cacheable: bool                  # looked up and stored (--cache-run-layers / --cache-copy-layers)
    key: str | None = None
    parent: str | None = None
    inputs: dict = field(default_factory=dict)


def default_cache_repo(options) -> str:
    """Kaniko's default: ``<repository of the first destination>/cache``."""
    if options.cache_repo:
        return options.cache_repo
    if not options.destinations:
        raise UsageError("--cache=true needs a cache repository: give --cache-repo (a repository, or "
                         "oci:/path for a local layout) or a --destination to derive it from")
    from mason.oci.reference import parse_reference

    return parse_reference(options.destinations[0]).name + "/cache"


class BuildCache:
    def __init__(self, build):
        from mason.cache.lookup import Lookups
        from mason.cache.pusher import BackgroundPushes
        from mason.cache.store import open_store

        opts = build.options
        self.build = build
        self.repo = default_cache_repo(opts)
        self.store = open_store(self.repo, client_factory=lambda: build.push_registry,
                                ttl_seconds=opts.cache_ttl_seconds,
                                platform=(build.platform.os, build.platform.architecture))
        warn = lambda message: build.reporter.emit(ev.Warn(message))  # noqa: E731
        self.lookups = Lookups(self.store, warn=warn)
        self.pushes = BackgroundPushes(self.store, warn=warn)
        self.push_enabled = not opts.no_push_cache
        self.hash_cache: dict = {}
        self._steps: dict[int, list[StepCacheInfo]] = {}   # per stage: stages may run at once
        self.record_tag = record_tag(opts.destinations[0] if opts.destinations else None,
                                     _dockerfile_name(opts), opts.target)
        self._previous = None
        if opts.cache_report:
            self._previous = self.lookups.background(self.store.get_document, self.record_tag)
        build.reporter.emit(ev.Info(f"layer cache: {self.repo}"
                                    + (" (read only: --no-push-cache)" if not self.push_enabled else "")))

    # --- key inputs --------------------------------------------------------------------------
    def writer(self, docker_media: bool) -> dict:
        from mason.cache.records import writer_record

        lo = self.build.layer_options(docker_media)
        return writer_record(compression=lo.compression.name.lower(), level=lo.level,
                             fixed_mtime=lo.fixed_mtime, mtime_clamp=lo.mtime_clamp, docker_media=docker_media,
                             ignore_paths=self.build.options.snapshot_ignores())

    def cacheable(self, ins) -> bool:
        opts = self.build.options
        if isinstance(ins, (di.Copy, di.Add)):
            return opts.cache_copy_layers
        return opts.cache_run_layers

    def plan_stage(self, builder, steps, start_key: str) -> list[PlannedStep | None]:
        """Key every layer step of a stage (``steps``: (instruction, expanded, scope before)),
        simulating the config effects in between, and start the lookups of all known keys."""
        from mason.executor.stageconfig import StageConfig
        from mason.executor.stagebuilder import apply_config, locate
        from mason.executor.stepkeys import created_by, record_for

        cfg = StageConfig(builder.state.config.snapshot())
        parent: str | None = start_key
        out: list[PlannedStep | None] = []
        for ins, expanded, scope in steps:
            if not isinstance(expanded, LAYER_STEPS):
                apply_config(cfg, expanded)
                out.append(None)
                continue
            loc = f"{ins.location.file}:{ins.location.start_line}"
            try:
                record = record_for(builder, expanded, cfg, scope, loc)
                planned = PlannedStep(record, created_by(expanded, cfg.shell), self.cacheable(expanded))
            except MasonError as exc:
                locate(exc, ins)
                raise
            if record is not None:
                planned.inputs = input_digests(record)
            if parent is not None and record is not None:
                planned.parent, planned.key = parent, step_key(parent, record)
                parent = planned.key
                if planned.cacheable:
                    self.lookups.submit(planned.key)
            else:
                parent = None       # known only once this step has run
            if isinstance(expanded, di.Workdir):
                cfg.set_workdir(expanded.path)
            out.append(planned)
        return out

    def key_after(self, planned: PlannedStep, parent: str) -> str:
        """A step planned without a key (an earlier step's output was unknown)."""
        if planned.key is None and planned.record is not None:
            planned.parent, planned.key = parent, step_key(parent, planned.record)
        return planned.key

    @staticmethod
    def chain_after(parent: str, planned: PlannedStep, kind: str, layer) -> str:
        if planned.key is not None:
            return planned.key
        return chain_output(parent, kind, layer.diff_id if layer is not None else None)

    # --- documents (memos, the previous-build record) -------------------------------------------
    def get_document(self, tag: str) -> dict | None:
        try:
            return self.store.get_document(tag)
        except (MasonError, OSError) as exc:
            self.build.reporter.emit(ev.Warn(f"cache lookup of {tag} in {self.store.name} failed: {exc}"))
            return None

    def put_document(self, tag: str, document: dict) -> None:
        if self.push_enabled:
            self.pushes.document(tag, document)

    def store_entry(self, planned: PlannedStep, layer) -> None:
        from mason.cache.store import NewEntry

        if self.push_enabled and planned.cacheable and planned.key is not None:
            self.pushes.entry(NewEntry(planned.key, layer, planned.created_by, planned.inputs))

    def stage_steps(self, index: int) -> list[StepCacheInfo]:
        """The report entries of stage ``index`` (appended to by that stage's thread only)."""
        return self._steps.setdefault(index, [])

    @property
    def steps(self) -> list[StepCacheInfo]:
        """Every step's report entry, stage by stage in build order (not finishing order)."""
        return [s for stage in list(self._steps.values()) for s in stage]

    # --- end -------------------------------------------------------------------------------
    def store_record(self) -> None:
        """Push this build's record (what the next build's report compares with)."""
        if self.push_enabled:
            self.pushes.document(self.record_tag, record_document(self.steps))

    def finish(self) -> None:
        """Wait for every cache push, write --cache-report."""
        previous = None
        if self._previous is not None:
            try:
                previous = self._previous.result()
            except (MasonError, OSError) as exc:
                self.build.reporter.emit(ev.Warn(f"could not read the previous build's cache record: {exc}"))
        self.pushes.join()
        report = self.build.options.cache_report
        if report:
            explain(self.steps, previous)
            write_report(report, self.steps, cache_repo=self.repo, previous_found=previous is not None)

    def close(self) -> None:
        self.lookups.close()
        self.pushes.close()


def _dockerfile_name(opts) -> str:
    """The Dockerfile as the record's tag names it: relative to the context when inside it,
    so CI runners cloning into different directories share one record."""
    if opts.dockerfile is None:
        return "Dockerfile"
    path = Path(opts.dockerfile)
    try:
        return str(path.resolve().relative_to(Path(opts.context_dir).resolve()))
    except ValueError:
        return str(path)
