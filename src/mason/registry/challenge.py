"""Parse ``WWW-Authenticate`` headers (RFC 7235) into challenges.

A registry names its auth scheme and, for Bearer, where to get tokens:
``Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"``.
Several challenges may share one header, and quoted values may contain commas, so this is
a small tokenizer rather than a split on ``,``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True)
class Challenge:
    """A registry's ``WWW-Authenticate`` challenge: scheme and parameters."""

    scheme: str                      # lower-case: "basic", "bearer"
    params: dict[str, str] = field(default_factory=dict)  # lower-case keys

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> str | None:
        return self.params.get("error")


def _skip(text: str, i: int, chars: str = " \t") -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _quoted(text: str, i: int) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[i] == '"'``; returns (value, index after it)."""
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i  # unterminated: be lenient, take the rest


def parse_challenges(header: str | None) -> list[Challenge]:
    """All challenges in a ``WWW-Authenticate`` value, in order; [] for None/garbage."""
    if not header:
        return []
    challenges: list[Challenge] = []
    i = _skip(header, 0, " \t,")
    while i < len(header):
        m = _TOKEN.match(header, i)
        if not m:
            break
        scheme = m.group(0).lower()
        i = m.end()
        params: dict[str, str] = {}
        while True:
            i = _skip(header, i, " \t,")
            m = _TOKEN.match(header, i)
            if not m:
                break
            j = _skip(header, m.end())
            if j >= len(header) or header[j] != "=":
                break  # a bare token: the next challenge's scheme
            key = m.group(0).lower()
            j = _skip(header, j + 1)
            if j < len(header) and header[j] == '"':
                value, i = _quoted(header, j)
            else:
                v = _TOKEN.match(header, j)
                value = v.group(0) if v else ""
                i = v.end() if v else j
            params[key] = value
        challenges.append(Challenge(scheme, params))
    return challenges


def pick_challenge(header: str | None) -> Challenge | None:
    """The challenge mason answers: Bearer if offered, else Basic, else None."""
    challenges = parse_challenges(header)
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None
