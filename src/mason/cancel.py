"""A build's cancel token: a ``threading.Event`` that also runs callbacks when set.

Polling (``is_set()`` between reads, between RUNs) stops work that comes back to look; a
thread blocked in ``recv`` on a slow registry never looks. Only the main thread runs
Python's signal handlers, and ``close()`` from another thread does not wake a blocked read;
``shutdown()`` of its socket does. So whatever blocks on the network registers, with
:meth:`CancelToken.on_set`, a callback that cuts it (``mason.registry.interrupt``), and the
code that stops the build (the unwinding of a SIGTERM, a failed sibling stage) just sets
the token. One token per build (or per group of worker threads): nothing here is global.

Kept apart from ``mason.registry`` so the executor can make tokens without loading the HTTP
stack; it imports nothing of mason's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class CancelToken(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._guard = threading.Lock()

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when the token is set (at once if it already is); returns the
        function that unregisters it (call it when the transfer is over)."""
        with self._guard:
            if not self.is_set():
                key = self._next
                self._next += 1
                self._callbacks[key] = callback
                return lambda: self._forget(key)
        _quietly(callback)
        return lambda: None

    def _forget(self, key: int) -> None:
        with self._guard:
            self._callbacks.pop(key, None)

    def set(self) -> None:
        # Callbacks only flag and shut sockets down: quick, and safe while a signal unwinds.
        with self._guard:
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
            super().set()
        for callback in callbacks:
            _quietly(callback)


def _quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:   # an interrupt that fails (a socket already gone) has nothing left to cut
        pass


def on_cancel(cancel: threading.Event | None, callback: Callable[[], None]) -> Callable[[], None]:
    """``cancel.on_set(callback)`` when ``cancel`` is a CancelToken; a plain Event (or None)
    can only be polled, and gets nothing."""
    register = getattr(cancel, "on_set", None)
    return register(callback) if register is not None else (lambda: None)
