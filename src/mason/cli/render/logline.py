"""Kaniko-style log lines (``INFO[0001] msg``), with colour on a terminal, or JSON lines.

Kaniko logs through logrus: ``LEVL[elapsed seconds] message`` with ``--log-format
text|color``, ``LEVL[2024-05-01T12:00:00Z] message`` with ``--log-timestamp``, and one JSON
object per line (``level``, ``msg``, ``time``) with ``--log-format json``. mason keeps those
shapes so log parsers and habits keep working, adds the event's own fields to JSON lines, and
only colours lines on a real terminal (never in CI logs).
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from datetime import datetime, timezone
from typing import IO, Callable

from mason.executor import events as ev

LEVELS = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
_TAGS = {"panic": "PANI", "fatal": "FATA", "error": "ERRO", "warn": "WARN", "info": "INFO",
         "debug": "DEBU", "trace": "TRAC"}
_COLORS = {"panic": 31, "fatal": 31, "error": 31, "warn": 33, "info": 36, "debug": 37, "trace": 37}


# ANSI escape sequences (CSI, OSC, two-byte) and the other C0/C1 controls except tab.
_CONTROLS = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """Text without terminal control codes: what a CI log (or a log parser) should receive."""
    if "\r" in text:
        text = text.rsplit("\r", 1)[-1] or text.replace("\r", "")  # progress bars: keep the final state
    return _CONTROLS.sub("", text)


def enabled(level: str, verbosity: str) -> bool:
    return LEVELS.index(level) <= LEVELS.index(verbosity)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def describe(event: object) -> tuple[str, str]:
    """``(level, message)`` for an event: the one wording shared by text and JSON output."""
    if isinstance(event, ev.Info):
        return "info", event.message
    if isinstance(event, ev.Warn):
        return "warn", event.message
    if isinstance(event, ev.StageStarted):
        return "info", f"Building stage {event.stage} FROM {event.base}"
    if isinstance(event, ev.StepStarted):
        return "info", f"[{event.step_id}] {event.instruction}"
    if isinstance(event, ev.StepOutput):
        return "info", event.line
    if isinstance(event, ev.StepFinished):
        if event.cache == "hit":
            return "info", f"[{event.step_id}] using cached layer ({event.seconds:.1f}s)"
        layer = f", layer {_size(event.layer_size)}" if event.layer_size is not None else ""
        return "debug", f"[{event.step_id}] done in {event.seconds:.1f}s (cache {event.cache}{layer})"
    if isinstance(event, ev.Transfer):
        total = _size(event.total) if event.total is not None else "?"
        return "trace", f"{event.what} {event.ref} {event.digest}: {_size(event.done)}/{total}"
    if isinstance(event, ev.Pushed):
        return "info", f"Pushed {event.reference}@{event.digest}"
    if isinstance(event, ev.BuildFinished):
        return "info", f"Built image {event.image_digest} in {event.seconds:.1f}s"
    return "debug", f"event {event!r}"


def event_fields(event: object) -> dict:
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        fields = dataclasses.asdict(event)
        fields.pop("message", None)
        fields["event"] = type(event).__name__
        return fields
    return {}


class RunningSteps:
    """Which steps are running, to tell RUN output of parallel stages apart.

    With one step at a time, RUN output is printed bare, as Kaniko prints it; while steps of
    independent stages run at once, each output line starts with its ``[step]`` so
    interleaved lines stay readable. Not locked: its owner calls it under its own lock.
    """

    def __init__(self) -> None:
        self._running: set[str] = set()

    def note(self, event: object) -> None:
        if isinstance(event, ev.StepStarted):
            self._running.add(event.step_id)
        elif isinstance(event, ev.StepFinished):
            self._running.discard(event.step_id)

    def output_line(self, event: "ev.StepOutput", text: str) -> str:
        if len(self._running) > 1 or (self._running and event.step_id not in self._running):
            return f"[{event.step_id}] {text}"
        return text


class LogReporter:
    """A thread-safe ``Reporter`` writing one line per event; RUN output goes to ``output``.

    ``format`` is ``text``, ``color`` (already decided: only on a terminal) or ``json``;
    ``colors=False`` (``NO_COLOR``) keeps a terminal's format but adds no colour codes.
    Every event's lines are written under one lock, so events from parallel stages never
    interleave within a line or within a multi-line message.
    """

    def __init__(self, stream: IO[str], *, output: IO[str] | None = None, format: str = "text",
                 verbosity: str = "info", timestamps: bool = False,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] | None = None,
                 colors: bool = True):
        self.stream = stream
        self.colors = colors
        self.output = output if output is not None else stream
        self.format = format
        self.verbosity = verbosity
        self.timestamps = timestamps
        self._clock = clock
        self._start = clock()
        self._now = now or (lambda: datetime.now(timezone.utc).astimezone())
        self._lock = threading.RLock()
        self._steps = RunningSteps()

    def emit(self, event: object) -> None:
        level, message = describe(event)
        with self._lock:
            self._steps.note(event)
            if isinstance(event, ev.StepOutput) and self.format != "json":
                # RUN output is the program's own text, printed as Kaniko does; outside a terminal
                # without its control codes (progress bars, colours), which would garble CI logs.
                text = message if self.format == "color" else strip_controls(message)
                self._write(self.output, self._steps.output_line(event, text))
                return
            self.log(level, message, event_fields(event))

    def track(self, event: object) -> None:
        """Note a step starting or finishing without printing it (the live view draws steps
        itself, but its RUN output lines go through here)."""
        with self._lock:
            self._steps.note(event)

    def log(self, level: str, message: str, fields: dict | None = None) -> None:
        if not enabled(level, self.verbosity):
            return
        if self.format == "json":
            record = {"level": level, "msg": strip_controls(message), "time": self._now().isoformat(timespec="seconds")}
            for key, value in (fields or {}).items():
                record.setdefault(key, value)
            self._write(self.stream, json.dumps(record, default=str, ensure_ascii=False))
            return
        stamp = (self._now().isoformat(timespec="seconds") if self.timestamps
                 else f"{int(self._clock() - self._start):04d}")
        tag = _TAGS[level]
        if self.format != "color":
            message = strip_controls(message)
        elif self.colors:
            tag = f"\x1b[{_COLORS[level]}m{tag}\x1b[0m"
        self._write(self.stream, "\n".join(f"{tag}[{stamp}] {line}" for line in message.splitlines() or [""]))

    def _write(self, stream: IO[str], text: str) -> None:
        with self._lock:
            stream.write(text + "\n")
            stream.flush()

    def close(self) -> None:
        pass
