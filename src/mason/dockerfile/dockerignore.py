"""``.dockerignore``: BuildKit's pattern matcher for the build context.

Patterns are Go ``filepath.Match`` globs plus ``**`` (any number of directories); lines are
trimmed, ``#`` at column 0 starts a comment, ``!`` re-includes, leading ``/`` and ``./`` are
normalised (``filepath.Clean``); later patterns win; a pattern that matches a directory
also matches everything under it. ``<Dockerfile>.dockerignore`` next to the Dockerfile takes
precedence over the context's ``.dockerignore`` (see ``dockerignore_candidates``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from mason.errors import DockerfileError

_ESCAPE = frozenset(".+()|{}$")


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool
    regex: re.Pattern


def _compile(pattern: str) -> re.Pattern:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in _ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append("\\\\")
        elif ch == "[":
            end = pattern.find("]", i + 1 if i < n and pattern[i] in "^!" else i)
            if end < 0:
                raise DockerfileError(f".dockerignore: syntax error in pattern {pattern!r}: unterminated [")
            body = pattern[i:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:
        raise DockerfileError(f".dockerignore: syntax error in pattern {pattern!r}: {exc}") from None


def _clean(pattern: str) -> str:
    cleaned = posixpath.normpath(pattern)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if len(cleaned) > 1 and cleaned.startswith("/"):
        cleaned = cleaned[1:]
    return cleaned


@dataclass(frozen=True)
class DockerIgnore:
    """An ordered list of patterns. ``excludes(path)`` answers for a context-relative path."""

    patterns: tuple[Pattern, ...] = ()

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        if text.startswith("\ufeff"):
            text = text[1:]
        patterns = []
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            line = line.strip()
            if not line:
                continue
            exclusion = line.startswith("!")
            if exclusion:
                if line == "!":
                    # moby/patternmatcher's ReadAll refuses it; it would re-include everything
                    raise DockerfileError('.dockerignore: illegal exclusion pattern: "!"')
                line = line[1:].strip()
            if line:
                line = _clean(line)
            patterns.append(Pattern(("!" if exclusion else "") + line, exclusion, _compile(line)))
        return cls(tuple(patterns))

    @property
    def has_exclusions(self) -> bool:
        """True when some ``!`` pattern exists: a walker must then descend into excluded dirs."""
        return any(p.exclusion for p in self.patterns)

    def excludes(self, path: str) -> bool:
        """True when the context-relative ``path`` (``/``-separated) is left out of the context."""
        path = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
        if path in ("", "."):
            return False
        parents = path.split("/")[:-1]
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            hit = pat.regex.match(path) is not None
            if not hit:
                for i in range(len(parents)):
                    if pat.regex.match("/".join(parents[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pat.exclusion
        return matched


def dockerignore_candidates(dockerfile_name: str) -> tuple[str, ...]:
    """Ignore files to try, first existing wins: ``<Dockerfile path>.dockerignore`` (next to the
    Dockerfile), then ``.dockerignore`` at the context root."""
    return (dockerfile_name + ".dockerignore", ".dockerignore")
