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

    def dump(self) -> str:
        """BuildKit's ``Node.Dump`` S-expression (its parser golden files' format): the
        command, the raw flags as a Go ``%q`` slice, then each value Go-quoted; ENV/LABEL give
        key and value of each pair, ONBUILD its wrapped instruction in parentheses."""
        out = self.cmd
        if self.flags:
            out += " [" + " ".join(go_quote(f) for f in self.flags) + "]"
        if self.child is not None:
            out += f" ({self.child.dump()})"
        elif self.cmd in ("env", "label"):
            out += "".join(f" {go_quote(p.key)} {go_quote(p.value)}" for p in self.pairs)
        else:
            out += "".join(" " + go_quote(a) for a in self.args)
        return out.strip()

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

    def dump(self) -> str:
        """The whole tree as BuildKit's ``AST.Dump()``: one parenthesised node per line."""
        return "".join(f"({n.dump()})\n" for n in self.nodes)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
               "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: printable characters as they are, the usual backslash
    escapes, ``\\uXXXX``/``\\UXXXXXXXX`` for other characters and ``\\xNN`` for bytes that
    were not UTF-8 (read with ``surrogateescape``)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
