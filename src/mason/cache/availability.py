"""A cache repository found down stays down for the rest of the build.

A lookup or cache push that cannot reach its registry has already spent the transport's
retries (backoff over ~15 s) before it fails. Without this, every later key and every miss's
push of the same build paid that again against the same dead registry. ``GuardedStore``
wraps one build's store: the first failure that says the registry itself is unavailable
(unreachable, timed out, 5xx, 429 — not a missing or damaged entry, not a denied push) marks
it down, with one warning; from then on lookups are misses and pushes are skipped without a
request. The mark lives in the build's own store object, never in the module: another build
(in this process or not) tries the registry afresh.
"""

from __future__ import annotations

import threading
from typing import Callable

from mason.cache.store import CacheEntry, CacheStore, NewEntry
from mason.errors import AuthError, NotFoundError, RegistryError


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the registry cannot serve anything right now (vs. about one entry)."""
    if isinstance(exc, (AuthError, NotFoundError)):
        return False
    if isinstance(exc, RegistryError):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    return isinstance(exc, OSError)


class GuardedStore:
    """``store``, until one of its requests finds the registry unavailable (see the module)."""

    def __init__(self, store: CacheStore, *, warn: Callable[[str], None] = lambda m: None):
        self.store = store
        self.name = store.name
        self._warn = warn
        self._lock = threading.Lock()
        self.down: str | None = None       # why the cache is off for the rest of this build

    def mark_down(self, reason: str, *, announce: bool = True) -> None:
        """No more requests to the cache repository in this build (one warning, the first time)."""
        with self._lock:
            if self.down is not None:
                return
            self.down = reason
        if announce:
            self._warn(f"cache repository {self.name} is unavailable ({reason}): no further cache lookups "
                       "or pushes in this build")

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:
            if is_unavailable(exc):
                self.mark_down(getattr(exc, "message", None) or str(exc))
            raise

    def get(self, key: str) -> CacheEntry | None:
        if self.down is not None:
            return None
        return self._call(self.store.get, key)

    def get_document(self, tag: str) -> dict | None:
        if self.down is not None:
            return None
        return self._call(self.store.get_document, tag)

    def put(self, entry: NewEntry) -> None:
        if self.down is None:
            self._call(self.store.put, entry)

    def put_document(self, tag: str, document: dict) -> None:
        if self.down is None:
            self._call(self.store.put_document, tag, document)
