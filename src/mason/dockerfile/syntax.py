"""The parse tree: what BuildKit's parser produces, before per-instruction validation.

A ``Node`` is one instruction as written: its lower-case command, raw flags (quotes already
removed, not yet validated), its arguments split the way BuildKit's line parsers split them,
and any heredocs that follow it. Nothing here is expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """Where an instruction is: 1-based inclusive line range (heredoc bodies included)."""

    file: str
    start_line: int
    end_line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.start_line}"


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to RUN/COPY/ADD.

    ``name`` is the delimiter with quotes removed; ``expand`` is False when any part of the
    delimiter was quoted (then ``$VAR`` in the body is left alone); ``chomp`` is the ``<<-``
    form (leading tabs are stripped from body lines when used); ``content`` is the raw body
    including its line endings; ``fd`` is the optional file descriptor prefix (``3<<EOF``).
    """

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    def body(self) -> str:
        """The content as it is used: leading tabs removed from every line for ``<<-``."""
        return chomp_heredoc(self.content) if self.chomp else self.content


def chomp_heredoc(content: str) -> str:
    import re

    return re.sub(r"(?m)^\t+", "", content)


@dataclass(frozen=True)
class KeyValue:
    """One ENV/LABEL pair as written: ``sep`` is ``=`` or ``""`` for the legacy ``KEY value`` form."""

    key: str
    value: str
    sep: str = "="


@dataclass(frozen=True)
class Node:
    """One instruction of the parse tree.

    ``args`` are the instruction's values as BuildKit's parser produces them: for JSON form the
    decoded array, for shell-form RUN/CMD/ENTRYPOINT/SHELL the whole command text, for
    whitespace-split instructions the fields, for HEALTHCHECK the type then the command.
    ``pairs`` holds ENV/LABEL pairs; ``child`` the wrapped instruction of ONBUILD.
    """

    cmd: str
    original: str
    location: Location
    flags: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    pairs: tuple[KeyValue, ...] = ()
    child: Node | None = None
    comments: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict:
        """The parse tree's JSON form used by ``mason dockerfile parse --json``."""
        if self.cmd in ("env", "label"):
            args: list = [[p.key, p.value, p.sep] for p in self.pairs]
        elif self.child is not None:
            args = [self.child.to_json()]
        else:
            args = list(self.args)
        return {
            "cmd": self.cmd,
            "flags": list(self.flags),
            "args": args,
            "json": self.json,
            "heredocs": [{"name": h.name, "content": h.content, "expand": h.expand, "chomp": h.chomp}
                         for h in self.heredocs],
            "start_line": self.location.start_line,
            "end_line": self.location.end_line,
            "original": self.original,
        }


@dataclass(frozen=True)
class Diagnostic:
    """A finding for ``mason dockerfile check``: ``severity`` is "error" or "warning"."""

    message: str
    file: str
    line: int
    column: int = 1
    rule: str = ""
    severity: str = "warning"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class ParseTree:
    """The whole file: directives (lower-case name -> value), escape character, nodes, warnings."""

    file: str
    directives: tuple[tuple[str, str], ...]
    escape: str
    nodes: tuple[Node, ...]
    warnings: tuple[Diagnostic, ...] = ()

    def directive(self, name: str) -> str | None:
        return dict(self.directives).get(name.lower())

    def to_json(self) -> dict:
        return {"directives": dict(self.directives), "instructions": [n.to_json() for n in self.nodes]}
