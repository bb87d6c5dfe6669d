"""What a build reports while it runs, as plain values.

The executor never prints: it hands events to a ``Reporter`` (anything with
``emit(event)``). The CLI renders them as Kaniko-style log lines, JSON lines or a live
terminal view; tests collect them in a list. A reporter may be called from several
threads (parallel stages, background pushes) and must be thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Info:
    """A message for the build log."""

    message: str


@dataclass(frozen=True)
class Warn:
    """A warning for the build log (a Dockerfile check, a cache that could not be used)."""

    message: str


@dataclass(frozen=True)
class StageStarted:
    """A stage begins."""

    stage: str            # name or index as text
    base: str             # what it starts FROM (resolved reference, "scratch", or a stage)


@dataclass(frozen=True)
class StepStarted:
    """A step begins."""

    step_id: str          # unique within the build, e.g. "1/4" for stage 1 step 4
    stage: str
    instruction: str      # the original Dockerfile text, one line
    location: str         # "Dockerfile:12"


@dataclass(frozen=True)
class StepOutput:
    """One line a RUN printed."""

    step_id: str
    line: str             # one line of a RUN's stdout/stderr, without the newline


@dataclass(frozen=True)
class StepFinished:
    """A step is done: how long it took, whether its cache hit, its layer."""

    step_id: str
    seconds: float
    cache: str = "none"   # "hit" | "miss" | "none" (cache off or not cacheable)
    layer_digest: str | None = None
    layer_size: int | None = None
    cache_key: str | None = None


@dataclass(frozen=True)
class Transfer:
    """Progress of a blob transfer (pull, push, cache push)."""

    what: str             # "pull" | "push" | "cache-push"
    ref: str
    digest: str
    done: int
    total: int | None


@dataclass(frozen=True)
class Pushed:
    """An image was pushed to one destination."""

    reference: str        # destination as given
    digest: str           # manifest digest


@dataclass(frozen=True)
class BuildFinished:
    """The build is done: the image's digests and its duration."""

    image_digest: str
    config_digest: str
    seconds: float


class Reporter(Protocol):
    def emit(self, event: object) -> None: ...


class NullReporter:
    def emit(self, event: object) -> None:
        pass


@dataclass
class CollectingReporter:
    """Keeps every event; for tests and for the end-of-build summary."""

    events: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def emit(self, event: object) -> None:
        with self._lock:
            self.events.append(event)

    def of_type(self, kind: type) -> list:
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]
