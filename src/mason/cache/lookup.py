"""Concurrent cache lookups: every key known up front is looked up at once.

Keys are definitional (a step's key depends on its parent's *key*, not on its output), so
the keys of a whole stage are known before anything runs and a miss never stops the
lookups after it. ``Lookups`` runs them on a small thread pool owned by one build; asking
for a result waits only for that key. A lookup that fails (registry down, damaged entry) is
a miss plus one warning: the cache may make a build faster, never make it fail.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from mason.cache.store import CacheEntry, CacheStore
from mason.errors import MasonError


class Lookups:
    def __init__(self, store: CacheStore, *, jobs: int = 8, warn: Callable[[str], None] = lambda m: None):
        self.store = store
        self.warn = warn
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mason-cache-lookup")
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()

    def submit(self, key: str) -> None:
        """Start looking ``key`` up (once per key, whoever asks)."""
        with self._lock:
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self.store.get, key)

    def result(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` (waiting for its lookup), or None for a miss."""
        self.submit(key)
        try:
            return self._futures[key].result()
        except MasonError as exc:
            self.warn(f"cache lookup of {key} in {self.store.name} failed, treated as a miss: {exc}")
        except OSError as exc:
            self.warn(f"cache lookup of {key} in {self.store.name} failed, treated as a miss: {exc}")
        return None

    def background(self, fn, *args) -> Future:
        """Run another read (e.g. the previous build's record) on the same pool."""
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
