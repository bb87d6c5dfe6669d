"""How a build looks: Kaniko-style lines, JSON lines, or a live terminal view.

The choice is made once, from the flags, the environment mapping and whether the stream is a
terminal: the live view and colours only on a terminal with ``CI`` unset; everywhere else
plain, line-buffered output without terminal control codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Mapping


@dataclass(frozen=True)
class OutputSettings:
    """How the build reports: verbosity, log format, progress style, metadata file."""

    verbosity: str = "info"
    log_format: str = "color"        # color | text | json (as given)
    log_timestamp: bool = False
    progress: str = "auto"           # auto | tty | plain
    metadata_file: Path | None = None


def settings_from_flags(parsed, cwd: Path) -> OutputSettings:
    meta = parsed["metadata-file"]
    return OutputSettings(verbosity=parsed["verbosity"], log_format=parsed["log-format"],
                          log_timestamp=parsed["log-timestamp"], progress=parsed["progress"],
                          metadata_file=(cwd / meta) if meta else None)


def is_interactive(stream: IO[str], env: Mapping[str, str]) -> bool:
    """A terminal a person watches: a tty, and not a CI job (``CI`` set by GitLab, GitHub, ...)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and not env.get("CI") and env.get("TERM") != "dumb"


def make_reporter(settings: OutputSettings, *, stream: IO[str], output: IO[str], env: Mapping[str, str],
                  width=None):
    """The reporter for this build; call its ``close()`` when the build ends."""
    from mason.cli.render.logline import LogReporter

    interactive = is_interactive(stream, env)
    # https://no-color.org: NO_COLOR set and not empty means no ANSI colours, whatever else asks
    # for them; a terminal still gets the live view (cursor movement is not colour).
    colors = not env.get("NO_COLOR")
    if settings.log_format == "json":
        return LogReporter(stream, output=output, format="json", verbosity=settings.verbosity)
    live = settings.progress == "tty" or (settings.progress == "auto" and interactive)
    if live and not settings.log_timestamp:
        import shutil

        from mason.cli.render.live import LiveView

        return LiveView(stream, verbosity=settings.verbosity, colors=colors,
                        width=width or (lambda: shutil.get_terminal_size().columns))
    terminal = settings.log_format == "color" and interactive
    return LogReporter(stream, output=output, format="color" if terminal else "text", colors=colors,
                       verbosity=settings.verbosity, timestamps=settings.log_timestamp)
