"""Dockerfile text -> parse tree (``ParseTree`` of ``Node``), exactly as BuildKit's parser reads it.

Line handling mirrors BuildKit: a UTF-8 BOM is dropped, CRLF is accepted, leading whitespace
of an instruction's first line is ignored, comment lines are skipped (also inside a
continuation), empty lines inside a continuation are skipped with a warning, a continuation
at end of file simply ends the instruction, and heredoc bodies follow the line that opened
them (several heredocs on one line are read one after another).
"""

from __future__ import annotations

import re
from types import MappingProxyType

from mason.dockerfile import lineparse
from mason.dockerfile.directives import DirectiveScanner, continuation_regex
from mason.dockerfile.expand import lex_words
from mason.dockerfile.syntax import Diagnostic, Heredoc, KeyValue, Location, Node, ParseTree
from mason.errors import DockerfileError

_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_MAX_LINE = 64 * 1024  # bufio.Scanner's default token limit in BuildKit
_HEREDOC_CMDS = frozenset(("run", "copy", "add"))
_WS_LEFT = " \t\n\v\f\r\x85\xa0"

_SPLITTERS = MappingProxyType({
    "add": lineparse.maybe_json_to_list,
    "copy": lineparse.maybe_json_to_list,
    "volume": lineparse.maybe_json_to_list,
    "cmd": lineparse.maybe_json,
    "entrypoint": lineparse.maybe_json,
    "run": lineparse.maybe_json,
    "shell": lineparse.maybe_json,
    "expose": lambda rest: (lineparse.whitespace_fields(rest), False),
    "from": lambda rest: (lineparse.whitespace_fields(rest), False),
    "healthcheck": lineparse.health_config,
    "maintainer": lambda rest: ([rest] if rest else [], False),
    "stopsignal": lambda rest: ([rest] if rest else [], False),
    "user": lambda rest: ([rest] if rest else [], False),
    "workdir": lambda rest: ([rest] if rest else [], False),
})
KNOWN_COMMANDS = frozenset((*_SPLITTERS, "arg", "env", "label", "onbuild"))


def _split_lines(text: str) -> list[str]:
    """Physical lines with their ``\\n`` kept (``str.splitlines`` also splits on \\r, \\f, ...)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _is_comment(line: str) -> bool:
    return line.lstrip(_WS_LEFT).startswith("#")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def node_from_line(line: str, escape: str, location: Location) -> Node:
    """One logical line (continuations already joined) -> ``Node`` without heredocs."""
    cmd, flags, rest = lineparse.split_command(line)
    lower = cmd.lower()
    args: list[str] = []
    is_json = False
    pairs: tuple[KeyValue, ...] = ()
    child = None
    if lower in ("env", "label"):
        pairs = tuple(KeyValue(k, v, s) for k, v, s in lineparse.name_values(rest, lower.upper(), escape))
    elif lower == "arg":
        args = lineparse.parse_words(rest, escape)
    elif lower == "onbuild":
        if rest:
            child = node_from_line(rest, escape, location)
    elif lower in _SPLITTERS:
        args, is_json = _SPLITTERS[lower](rest)
    # Unknown commands parse to no arguments, as in BuildKit; validation names them later.
    return Node(cmd=lower, original=line, location=location, flags=tuple(flags), args=tuple(args),
                json=is_json, pairs=pairs, child=child)


def _can_contain_heredoc(node: Node) -> bool:
    if node.cmd == "onbuild" and node.child is not None:
        node = node.child
    return node.cmd in _HEREDOC_CMDS and not node.json


def parse_heredoc_word(word: str) -> Heredoc | None:
    """``<<EOF``, ``<<-EOF``, ``<<"EOF"``, ``3<<EOF`` -> ``Heredoc`` (no content), else None."""
    m = _HEREDOC.match(word)
    if m is None or not m.group(3):
        return None
    rest = m.group(3)
    words = lex_words(rest)  # may raise DockerfileError: an unterminated quote in the delimiter
    if len(words) != 1:
        return None
    raw = lex_words(rest, raw_quotes=True)
    if len(raw) != 1:
        raise DockerfileError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=words[0], expand=quotes == raw_quotes, chomp=m.group(2) == "-",
                   fd=int(m.group(1)) if m.group(1) else 0)


def heredocs_in_line(line: str) -> list[Heredoc]:
    try:
        words = lex_words(line, raw_quotes=True, raw_escapes=True)
    except DockerfileError:
        return []  # BuildKit ignores lexing errors here: such a line simply has no heredoc
    docs = []
    for word in words:
        doc = parse_heredoc_word(word)
        if doc is not None:
            docs.append(doc)
    return docs


def parse(text: str, *, file: str = "Dockerfile") -> ParseTree:
    """Parse Dockerfile text into a ``ParseTree``; raises ``DockerfileError`` with the line."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _split_lines(text)
    directives = DirectiveScanner(file)
    cont = continuation_regex("\\")
    escape = "\\"
    nodes: list[Node] = []
    warnings: list[Diagnostic] = []
    i = 0
    n = len(lines)
    current = 0  # number of physical lines consumed

    def loc_error(exc: Exception, start: int, end: int | None = None) -> DockerfileError:
        msg = exc.message if isinstance(exc, DockerfileError) else str(exc)
        hint = exc.hint if isinstance(exc, DockerfileError) else None
        return DockerfileError(msg, file=file, line=start, hint=hint)

    def check_len(raw: str, lineno: int) -> None:
        if len(raw) >= _MAX_LINE // 4 and len(raw.encode("utf-8", "surrogatepass")) > _MAX_LINE:
            raise DockerfileError(f"dockerfile line greater than max allowed size of {_MAX_LINE - 1}",
                                  file=file, line=lineno)

    while i < n:
        raw = lines[i]
        i += 1
        check_len(raw, current + 1)
        line = _trim_newline(raw).lstrip(_WS_LEFT)
        directives.feed(line, current + 1)
        if escape != directives.escape:
            escape = directives.escape
            cont = continuation_regex(escape)
        if line.startswith("#"):
            line = ""
        current += 1
        start = current
        joined, ended = _trim_continuation(line, cont)
        if ended and not joined:
            continue
        buf = [joined]
        empty_continuation = False
        while not ended and i < n:
            raw = lines[i]
            i += 1
            check_len(raw, current + 1)
            body = _trim_newline(raw)
            directives.feed(body, current + 1)
            current += 1
            if _is_comment(raw):
                continue
            if not body.lstrip(_WS_LEFT):
                empty_continuation = True
                continue
            piece, ended = _trim_continuation(body, cont)
            buf.append(piece)
        logical = "".join(buf)
        if empty_continuation:
            warnings.append(Diagnostic(f"Empty continuation line found in: {logical}", file, current,
                                       rule="NoEmptyContinuation"))
        try:
            node = node_from_line(logical, escape, Location(file, start, current))
        except lineparse.LineError as exc:
            raise DockerfileError(str(exc), file=file, line=start) from None
        heredocs: list[Heredoc] = []
        if _can_contain_heredoc(node) and "<<" in logical:
            try:
                found = heredocs_in_line(logical)
            except DockerfileError as exc:
                raise loc_error(exc, start) from None
            for doc in found:
                body_parts: list[str] = []
                terminated = False
                while i < n:
                    raw = lines[i]
                    i += 1
                    current += 1
                    candidate = _trim_newline(raw)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    body_parts.append(raw)
                if not terminated:
                    raise DockerfileError(f"unterminated heredoc {doc.name!r}", file=file, line=start,
                                          hint=f"end the here-document with a line containing only {doc.name}")
                heredocs.append(Heredoc(doc.name, "".join(body_parts), doc.expand, doc.chomp, doc.fd))
        if heredocs:
            location = Location(file, start, current)
            child = node.child
            if child is not None:
                child = _relocate(child, location, heredocs=tuple(heredocs))
            node = _relocate(node, location, heredocs=tuple(heredocs), child=child)
        nodes.append(node)
    if not nodes:
        raise DockerfileError("file with no instructions", file=file, line=max(current, 1),
                              hint="a Dockerfile needs at least a FROM instruction")
    return ParseTree(file=file, directives=tuple(directives.values.items()), escape=escape, nodes=tuple(nodes),
                     warnings=tuple(warnings))


def _relocate(node: Node, location: Location, **changes) -> Node:
    from dataclasses import replace

    return replace(node, location=location, **changes)


def _trim_continuation(line: str, cont: re.Pattern) -> tuple[str, bool]:
    m = cont.search(line)
    if m is None:
        return line, True
    return line[:m.start()] + (m.group(1) or ""), False
