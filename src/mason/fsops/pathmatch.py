"""Path patterns: Go's ``filepath.Match`` (COPY wildcards) and ``--exclude`` pattern lists.

COPY sources use exactly Go's ``filepath.Match``: ``*`` and ``?`` never cross a ``/``,
``[...]`` classes take ``^`` for negation and ``\\`` escapes. ``--exclude`` uses the
``.dockerignore`` dialect on top of it: ``**`` spans directories, a leading ``!`` re-includes,
the last matching pattern wins, and a pattern matching a directory excludes its contents.
Patterns compile to regular expressions once; a malformed one is an error, never a no-op.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from mason.errors import BuildError

_MAGIC = re.compile(r"[*?\[\\]")


def has_magic(pattern: str) -> bool:
    """True when ``pattern`` contains a wildcard (Go's filepath.Match metacharacters)."""
    return bool(_MAGIC.search(pattern))


def _translate(pattern: str, *, doublestar: bool) -> str:
    """Translate one pattern into a regular expression body (no anchors)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if doublestar and pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")  # "**/" matches zero or more directories
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise BuildError(f"invalid pattern {pattern!r}: trailing backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i, cls = _translate_class(pattern, i)
            out.append(cls)
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _translate_class(pattern: str, start: int) -> tuple[int, str]:
    """Translate a ``[...]`` class starting at ``start``; return (next index, regex)."""
    i, n = start + 1, len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    items: list[str] = []
    while True:
        if i >= n:
            raise BuildError(f"invalid pattern {pattern!r}: unterminated character class")
        if pattern[i] == "]" and items:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        if i < n and pattern[i] == "-" and i + 1 < n and pattern[i + 1] != "]":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise BuildError(f"invalid pattern {pattern!r}: bad range {lo}-{hi}")
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            items.append(re.escape(lo))
    body = "".join(items)
    # Go's classes never match the separator, negated or not.
    return i, (f"[^/{body}]" if negate else f"(?!/)[{body}]")


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if pattern[i] == "\\":
        if i + 1 >= len(pattern):
            raise BuildError(f"invalid pattern {pattern!r}: trailing backslash")
        return pattern[i + 1], i + 2
    if pattern[i] in "-]":  # Go rejects an unescaped '-' or ']' where a character is due
        raise BuildError(f"invalid pattern {pattern!r}: unescaped {pattern[i]!r} in a class")
    return pattern[i], i + 1


def compile_match(pattern: str) -> re.Pattern[str]:
    """Compile a Go ``filepath.Match`` pattern (one whole path, ``*`` stops at ``/``)."""
    return re.compile(_translate(pattern, doublestar=False), re.DOTALL)


def match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match(pattern, name)``; raises BuildError for a malformed pattern."""
    return compile_match(pattern).fullmatch(name) is not None


@dataclass(frozen=True)
class _Rule:
    """One compiled ``.dockerignore`` line."""

    regex: re.Pattern[str]
    negate: bool
    text: str


class PatternList:
    """An ordered ``.dockerignore``-dialect list: the build context's ``.dockerignore``
    (``mason.context.ignore`` parses the file into one) and ``COPY --exclude``.

    ``matches(relpath)`` is True when the path, or one of its parent directories, is
    excluded by the last pattern that matches it. ``source`` names where the patterns came
    from (for messages).
    """

    def __init__(self, patterns: list[str] | tuple[str, ...], *, source: str = "--exclude"):
        self.source = source
        rules: list[_Rule] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            negate = text.startswith("!")
            if negate:
                text = text[1:].strip()
                if not text:
                    # moby/patternmatcher refuses it: it would re-include everything
                    raise BuildError('illegal exclusion pattern: "!"')
            cleaned = posixpath.normpath(text).lstrip("/")
            if cleaned in ("", "."):
                cleaned = "."
            rules.append(_Rule(re.compile(_translate(cleaned, doublestar=True), re.DOTALL),
                               negate, raw))
        self._rules = tuple(rules)
        self.has_exceptions = any(r.negate for r in rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def matches(self, relpath: str) -> bool:
        relpath = posixpath.normpath(relpath.replace("\\", "/")).strip("/")
        if relpath in ("", "."):
            return False
        parts = relpath.split("/")
        prefixes = ["/".join(parts[: k + 1]) for k in range(len(parts))]
        excluded = False
        for rule in self._rules:
            # A pattern that matches a parent directory covers everything below it.
            if any(rule.regex.fullmatch(p) for p in prefixes):
                excluded = not rule.negate
        return excluded
