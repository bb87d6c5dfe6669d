"""Helpers for cache tests: builds against the real registry, with a client that counts
every blob it downloads, and a fresh work dir and empty --cache-dir each time (as on an
ephemeral CI runner)."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

from mason.executor.events import CollectingReporter, StepFinished, Warn
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions, RegistryAccess
from mason.executor.registryaccess import registry_options
from mason.registry import RegistryClient

_COUNTER = itertools.count()


class CountingClient(RegistryClient):
    """A real registry client that records every blob GET (digest) it makes."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.downloads: list[str] = []
        self._lock = threading.Lock()

    def open_blob(self, repo, digest, size=None):
        with self._lock:
            self.downloads.append(digest)
        return super().open_blob(repo, digest, size)


def client() -> CountingClient:
    return CountingClient(options=registry_options(RegistryAccess(insecure=True, insecure_pull=True), push=True))


def cache_build(context: Path, tmp_path: Path, destination: str | None, **kw):
    """One build with ``--cache=true``; returns (result, events, client, work_root, cache_dir)."""
    n = next(_COUNTER)
    work = tmp_path / f"work-{n}"
    cache_dir = tmp_path / f"cachedir-{n}"
    cache_dir.mkdir()
    registry = kw.pop("registry", None) or client()
    reporter = CollectingReporter()
    options = BuildOptions(context_dir=context, destinations=(destination,) if destination else (),
                           no_push=destination is None, work_root=work, cache_dir=cache_dir, cache=True,
                           registry=RegistryAccess(insecure=True, insecure_pull=True), **kw)
    result = run_build(options, reporter=reporter, env={}, registry=registry)
    return result, reporter, registry, work, cache_dir


def cache_states(reporter) -> list[str]:
    """hit/miss/none per step, in order."""
    return [e.cache for e in reporter.of_type(StepFinished)]


def warnings(reporter) -> list[str]:
    return [e.message for e in reporter.of_type(Warn)]


def extracted(cache_dir: Path) -> list[Path]:
    """Every layer the LayerStore materialised under --cache-dir: extracted directories and
    EROFS images (``<hex>.erofs``, returned as ``<hex>`` so callers compare layer names)."""
    root = cache_dir / "layers"
    if not root.exists():
        return []
    found = [p for p in root.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    found += [p.with_suffix("") for p in root.glob("*/*.erofs") if p.is_file()]
    return found
