"""What ``mason bake`` prints: each image's log lines, tagged, and a summary per image.

Several builds write to one stream at once, so each image gets its own ``LogReporter``
writing through a ``_TaggedStream``: text lines get a ``[name] `` prefix, JSON lines an
``"image"`` field; one lock keeps lines whole. No terminal control codes: bake output is
read in CI logs (the live view is ``mason build``'s).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO

from mason.cli.render.logline import LogReporter, strip_controls


class _TaggedStream:
    """A text stream that tags every complete line it is given and writes it to ``target``."""

    def __init__(self, target: IO[str], lock: threading.Lock, name: str, json_lines: bool, width: int):
        self._target, self._lock, self._name = target, lock, name
        self._json = json_lines
        self._prefix = f"[{name}]".ljust(width + 2) + " "
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        if lines:
            with self._lock:
                for line in lines:
                    self._target.write(self._tag(line) + "\n")
                self._target.flush()
        return len(text)

    def _tag(self, line: str) -> str:
        if self._json:
            try:
                record = json.loads(line)
            except ValueError:
                record = {"level": "info", "msg": line}
            return json.dumps({"image": self._name, **record}, default=str, ensure_ascii=False)
        return self._prefix + line

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class BakeOutput:
    def __init__(self, stream: IO[str], *, names: list[str], log_format: str = "text", verbosity: str = "info"):
        self.stream = stream
        self.log_format = log_format
        self.verbosity = verbosity
        self._lock = threading.Lock()
        self._width = max((len(n) for n in names), default=4)
        self._main = LogReporter(_TaggedStream(stream, self._lock, "bake", log_format == "json", self._width),
                                 format="json" if log_format == "json" else "text", verbosity=verbosity)

    def reporter(self, name: str) -> LogReporter:
        tagged = _TaggedStream(self.stream, self._lock, name, self.log_format == "json", self._width)
        return LogReporter(tagged, format="json" if self.log_format == "json" else "text",
                           verbosity=self.verbosity)

    def note(self, name: str, message: str) -> None:
        self._main.log("info", f"{name}: {message}")

    def plan(self, levels: list[list[str]], jobs: int) -> None:
        order = " then ".join("{" + ", ".join(group) + "}" for group in levels)
        self._main.log("info", f"building {sum(map(len, levels))} image(s), up to {jobs} at once: {order}")

    def done(self, outcome) -> None:
        if outcome.status == "ok":
            self._main.log("info", f"{outcome.name}: built {outcome.result.image_digest} in {outcome.seconds:.1f}s")
        elif outcome.status == "failed":
            error = outcome.error
            self._main.log("error", f"{outcome.name}: failed after {outcome.seconds:.1f}s: "
                                    f"{type(error).__name__}: {strip_controls(str(error))}")
            if getattr(error, "hint", None):
                self._main.log("info", f"{outcome.name}: hint: {error.hint}")
        else:
            self._main.log("warn", f"{outcome.name}: skipped: it depends on {outcome.blocked_by}, which failed")

    def summary(self, outcomes: dict) -> None:
        """One line per image: status, time, and the pushed references with digests."""
        if self.log_format == "json":
            self._main.log("info", "bake summary", {"summary": {name: _record(o) for name, o in outcomes.items()}})
            return
        width = max(len(n) for n in outcomes)
        lines = ["", f"{'IMAGE':<{width}}  STATUS   TIME    RESULT"]
        for name, o in outcomes.items():
            if o.status == "ok":
                pushed = [f"{ref}@{digest}" for ref, digest in o.result.pushed] or [o.result.image_digest]
                result = ", ".join(pushed)
            elif o.status == "failed":
                result = f"{type(o.error).__name__}: {strip_controls(str(o.error)).splitlines()[0][:120]}"
            else:
                result = f"not built: depends on {o.blocked_by}"
            lines.append(f"{name:<{width}}  {o.status:<7}  {o.seconds:5.1f}s  {result}")
        with self._lock:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()

    def write_metadata(self, path: Path, outcomes: dict) -> None:
        """Like ``docker buildx bake --metadata-file``: one entry per image."""
        doc = {name: _record(o) for name, o in outcomes.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _record(outcome) -> dict:
    from mason.cli.render.summary import metadata

    record: dict = {"status": outcome.status, "seconds": round(outcome.seconds, 3)}
    if outcome.status == "ok":
        record.update(metadata(outcome.result))
    elif outcome.status == "failed":
        record["error"] = {"type": type(outcome.error).__name__, "message": str(outcome.error),
                           "exit_code": getattr(outcome.error, "exit_code", 4)}
    else:
        record["blocked_by"] = outcome.blocked_by
    return record
