"""The push-permission pre-flight, run alongside the start of the build instead of before it.

Kaniko checks push access before building, so a 20-minute build does not end in DENIED;
mason checks every destination and the cache repository. Those checks are round trips
(token, start an upload, cancel it) that nothing read-only needs: resolving base images and
looking up cache keys go on while they run. Nothing that changes anything waits less:
the build waits for the checks before it chooses an isolation (before any step runs, any
filesystem is made, any root replaced), before any cache push and before the image is
written. A failed check cancels the build at once and is the error the build ends with,
whatever the stages were doing; warnings (a cache registry that is down) are emitted when
they arrive.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from mason.errors import MasonError
from mason.registry.interrupt import TransferCancelled


class PushPreflight:
    """Checks started at once on their own threads; ``wait`` raises the first failed one in
    the order given (as when they ran in turn) and is safe to call from any thread.

    A failed check cancels the build, which cuts the other checks' transfers in flight: their
    ``TransferCancelled`` errors are consequences of it, not the reason the build stopped, so
    they are reported only when nothing else failed."""

    def __init__(self, checks: list[Callable[[], object]], *, warn: Callable[[str], None],
                 cancel: threading.Event):
        self._warn = warn
        self._cancel = cancel
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(4, len(checks))),
                                        thread_name_prefix="mason-push-check")
        self._futures: list[Future] = [self._pool.submit(self._run, check) for check in checks]
        self._pool.shutdown(wait=False)

    def _run(self, check: Callable[[], object]) -> None:
        try:
            warning = check()
        except BaseException as exc:
            if isinstance(exc, MasonError):
                exc.of_the_build = True   # a step that waits for it meets it, but it is not the step's
            self._cancel.set()            # stop the stages now: this build ends with that error
            raise
        if isinstance(warning, str):
            self._warn(warning)

    def wait(self) -> None:
        """Block until every check finished; raise the failure that stopped the build."""
        first = self.failure()
        if first is not None:
            raise first

    def failure(self) -> BaseException | None:
        """The check failure to report, if one failed (waits for every check)."""
        failures = [exc for exc in (future.exception() for future in self._futures) if exc is not None]
        causes = [exc for exc in failures if not isinstance(exc, TransferCancelled)]
        found = causes or failures
        return found[0] if found else None
