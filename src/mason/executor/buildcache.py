"""The layer cache of one build (``--cache=true``): keys, lookups, hits, pushes, report.

Owned by one build (never shared): its store, its lookup and push thread pools, its file
hash cache and the per-step report. The stage loop computes the key records of a whole
stage before any step runs (each step owns its record, ``mason.executor.steps``);
``chain`` turns them into keys and starts their lookups at once; the loop then takes each
step's answer in order. ``finish`` waits for the background pushes and writes the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mason.cache.availability import GuardedStore
from mason.cache.keys import chain_output, input_digests, step_key
from mason.cache.lookup import Lookups
from mason.cache.pusher import BackgroundPushes
from mason.cache.records import writer_record
from mason.cache.report import StepCacheInfo, explain, record_document, record_tag, write_report
from mason.cache.store import NewEntry, open_store
from mason.errors import MasonError
from mason.executor import events as ev
from mason.executor.settings import Settings


@dataclass
class PlannedStep:
    """A layer step's cache plan: ``record`` None when its key depends on its output."""

    record: dict | None
    created_by: str
    cacheable: bool                  # looked up and stored (--cache-run-layers / --cache-copy-layers)
    key: str | None = None
    parent: str | None = None
    inputs: dict = field(default_factory=dict)


class BuildCache:
    def __init__(self, settings: Settings, *, push_client: Callable[[], Any], reporter: ev.Reporter):
        opts = settings.options
        assert settings.cache_repo is not None, "a build has a cache repository when --cache=true"
        self.settings = settings
        self.reporter = reporter
        self.repo = settings.cache_repo
        warn = lambda message: reporter.emit(ev.Warn(message))  # noqa: E731
        # Guarded: once its registry is found down, no later lookup or push retries it.
        self.store = GuardedStore(open_store(self.repo, client_factory=push_client,
                                             ttl_seconds=opts.cache_ttl_seconds,
                                             platform=(settings.platform.os, settings.platform.architecture)),
                                  warn=warn)
        self.lookups = Lookups(self.store, warn=warn)
        self.pushes = BackgroundPushes(self.store, warn=warn)
        self.push_enabled = not opts.no_push_cache
        self.hash_cache: dict = {}
        self.gate: Callable[[], None] = lambda: None   # waited for before any cache push
        self._steps: dict[int, list[StepCacheInfo]] = {}   # per stage: stages may run at once
        self.record_tag = record_tag(opts.destinations[0] if opts.destinations else None,
                                     _dockerfile_name(opts), opts.target)
        self._previous = None
        if opts.cache_report:
            self._previous = self.lookups.background(self.store.get_document, self.record_tag)
        reporter.emit(ev.Info(f"layer cache: {self.repo}"
                              + (" (read only: --no-push-cache)" if not self.push_enabled else "")))

    def unavailable(self, reason: str) -> None:
        """The pre-flight found the cache repository down (it warned): no requests to it from now on."""
        self.store.mark_down(reason, announce=False)

    # --- keys ----------------------------------------------------------------------------
    def writer(self, docker_media: bool) -> dict:
        """The layer writer's part of every key record (format, compression, mtimes, ignores)."""
        lo = self.settings.layer_options(docker_media)
        return writer_record(compression=lo.compression.name.lower(), level=lo.level,
                             fixed_mtime=lo.fixed_mtime, mtime_clamp=lo.mtime_clamp, docker_media=docker_media,
                             ignore_paths=self.settings.snapshot_ignores)

    def plan(self, step: PlannedStep, parent: str | None) -> str | None:
        """Key a layer step planned after ``parent`` (the key before it; None when an earlier
        step's output decides it) and start its lookup; returns the key after it."""
        if step.record is not None:
            step.inputs = input_digests(step.record)
        if parent is None or step.record is None:
            return None             # known only once this step has run
        step.parent, step.key = parent, step_key(parent, step.record)
        if step.cacheable:
            self.lookups.submit(step.key)
        return step.key

    def key_after(self, planned: PlannedStep, parent: str | None) -> str | None:
        """A step planned without a key (an earlier step's output was unknown)."""
        if planned.key is None and planned.record is not None and parent is not None:
            planned.parent, planned.key = parent, step_key(parent, planned.record)
        return planned.key

    @staticmethod
    def chain_after(parent: str | None, planned: PlannedStep, kind: str, layer: Any) -> str | None:
        if planned.key is not None:
            return planned.key
        return chain_output(parent, kind, layer.diff_id if layer is not None else None)

    # --- documents (memos, the previous-build record) -------------------------------------------
    def get_document(self, tag: str) -> dict | None:
        try:
            return self.store.get_document(tag)
        except (MasonError, OSError) as exc:
            self.reporter.emit(ev.Warn(f"cache lookup of {tag} in {self.store.name} failed: {exc}"))
            return None

    def put_document(self, tag: str, document: dict) -> None:
        if self.push_enabled:
            self.gate()
            self.pushes.document(tag, document)

    def store_entry(self, planned: PlannedStep, layer: Any, history_created: str | None = None) -> None:
        """Store a miss's result; ``history_created`` is its history entry's time (a hit reuses it)."""
        if self.push_enabled and planned.cacheable and planned.key is not None:
            self.gate()
            self.pushes.entry(NewEntry(planned.key, layer, planned.created_by, planned.inputs, history_created))

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
            self.gate()
            self.pushes.document(self.record_tag, record_document(self.steps))

    def finish(self) -> None:
        """Wait for every cache push, write --cache-report."""
        previous = None
        if self._previous is not None:
            try:
                previous = self._previous.result()
            except (MasonError, OSError) as exc:
                self.reporter.emit(ev.Warn(f"could not read the previous build's cache record: {exc}"))
        self.pushes.join()
        report = self.settings.options.cache_report
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
