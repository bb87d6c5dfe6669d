"""The live terminal view: a step list with states and spinners, and transfer bars.

Used only when the output is a terminal and ``CI`` is not set (see ``choose_reporter``).
Messages (INFO/WARN lines, RUN output) scroll above the view; the view itself is redrawn
in place a few times per second by a ticker thread, and drawn one last time, without
spinners, by ``close()``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import IO, Callable

from mason.executor import events as ev
from mason.cli.render.logline import LogReporter, _size, describe, enabled

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_BAR = 20


@dataclass
class _Step:
    instruction: str
    started: float
    state: str = "running"        # running | done | cached
    seconds: float | None = None


@dataclass
class _Transfer:
    what: str
    ref: str
    digest: str
    done: int
    total: int | None
    started: float


class LiveView:
    def __init__(self, stream: IO[str], *, verbosity: str = "info", width: Callable[[], int] = lambda: 100,
                 clock: Callable[[], float] = time.monotonic, interval: float = 0.1, ticker: bool = True,
                 colors: bool = True):
        self.stream = stream
        self.verbosity = verbosity
        self._width = width
        self._clock = clock
        self._lock = threading.RLock()
        self._steps: dict[str, _Step] = {}
        self._transfers: dict[tuple[str, str], _Transfer] = {}
        self._drawn = 0               # lines of the view currently on screen
        self._frame = 0
        self._log = LogReporter(stream, format="color", verbosity=verbosity, clock=clock, colors=colors)
        self._stop = threading.Event()
        self._thread = None
        if ticker:
            self._thread = threading.Thread(target=self._tick, args=(interval,), daemon=True,
                                            name="mason-live-view")
            self._thread.start()

    # -- Reporter ---------------------------------------------------------------------------------
    def emit(self, event: object) -> None:
        with self._lock:
            now = self._clock()
            self._log.track(event)
            if isinstance(event, ev.StepStarted):
                self._steps[event.step_id] = _Step(event.instruction, now)
            elif isinstance(event, ev.StepFinished):
                step = self._steps.setdefault(event.step_id, _Step(event.step_id, now))
                step.state = "cached" if event.cache == "hit" else "done"
                step.seconds = event.seconds
            elif isinstance(event, ev.Transfer):
                key = (event.what, event.digest)
                if event.total is not None and event.done >= event.total:
                    self._transfers.pop(key, None)
                else:
                    old = self._transfers.get(key)
                    self._transfers[key] = _Transfer(event.what, event.ref, event.digest, event.done,
                                                     event.total, old.started if old else now)
                self._redraw()
                return
            level, _ = describe(event)
            if isinstance(event, (ev.StepStarted, ev.StepFinished)) or not enabled(level, self.verbosity):
                self._redraw()
                return
            self._clear()
            self._log.emit(event)
            self._redraw()

    def log(self, level: str, message: str, fields: dict | None = None) -> None:
        with self._lock:
            self._clear()
            self._log.log(level, message, fields)
            self._redraw()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._transfers.clear()
            self._redraw(final=True)
            self._drawn = 0

    # -- drawing ------------------------------------------------------------------------------------
    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                self._frame += 1
                self._redraw()

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def lines(self, final: bool = False) -> list[str]:
        width = max(self._width(), 40)
        now = self._clock()
        out = []
        for step_id, step in self._steps.items():
            if step.state == "running":
                mark = "…" if final else _SPINNER[self._frame % len(_SPINNER)]
                took = now - step.started
            else:
                mark = "✓" if step.state == "done" else "⚡"
                took = step.seconds or 0.0
            suffix = f" {'CACHED ' if step.state == 'cached' else ''}{took:5.1f}s"
            head = f"{mark} [{step_id}] "
            room = width - len(head) - len(suffix)
            text = step.instruction if len(step.instruction) <= room else step.instruction[:max(room - 1, 0)] + "…"
            out.append(head + text.ljust(room) + suffix)
        for t in self._transfers.values():
            rate = t.done / max(now - t.started, 1e-3)
            if t.total:
                filled = int(_BAR * min(t.done / t.total, 1.0))
                bar = "[" + "#" * filled + "-" * (_BAR - filled) + "]"
                amount = f"{_size(t.done)}/{_size(t.total)}"
            else:
                bar, amount = "[" + "?" * _BAR + "]", _size(t.done)
            line = f"  {t.what} {t.digest[:19]} {bar} {amount} {_size(int(rate))}/s"
            out.append(line[:width])
        return out

    def _redraw(self, final: bool = False) -> None:
        self._clear()
        lines = self.lines(final)
        for line in lines:
            self.stream.write(line + "\n")
        self._drawn = len(lines)
        self.stream.flush()
