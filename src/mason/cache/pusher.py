"""Cache pushes in the background, while the build goes on.

A miss's layer is already written (it is the same blob the image will use); storing it in
the cache repository is a copy that nothing in the build waits for. ``join`` is called
before ``run_build`` returns, so no thread outlives the build (and the work dir holding the
blobs is still there while they upload). A failed cache push is a warning: the image never
depends on it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from mason.cache.store import CacheStore, NewEntry
from mason.errors import MasonError


class BackgroundPushes:
    def __init__(self, store: CacheStore, *, jobs: int = 2, warn: Callable[[str], None] = lambda m: None):
        self.store = store
        self.warn = warn
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mason-cache-push")
        self._futures: list[tuple[str, Future]] = []
        self._lock = threading.Lock()
        self.pushed: list[str] = []
        self.failed: list[str] = []

    def entry(self, entry: NewEntry) -> None:
        self._submit(entry.key, self.store.put, entry)

    def document(self, tag: str, document: dict) -> None:
        self._submit(tag, self.store.put_document, tag, document)

    def _submit(self, what: str, fn, *args) -> None:
        with self._lock:
            self._futures.append((what, self._pool.submit(fn, *args)))

    def join(self) -> None:
        """Wait for every push; report failures as warnings (never raise them)."""
        with self._lock:
            futures, self._futures = self._futures, []
        for what, future in futures:
            try:
                future.result()
                self.pushed.append(what)
            except (MasonError, OSError) as exc:
                self.failed.append(what)
                self.warn(f"cache push of {what} to {self.store.name} failed (the image is not affected): {exc}")
            except Exception as exc:  # noqa: BLE001 - a bug in a cache push must not fail the build either
                self.failed.append(what)
                self.warn(f"cache push of {what} to {self.store.name} failed unexpectedly "
                          f"(the image is not affected): {type(exc).__name__}: {exc}")

    def close(self) -> None:
        self.join()
        self._pool.shutdown(wait=True)
