"""Keep credentials out of messages and logs.

Registry URLs, response bodies and exception texts can carry secrets (user:password@host,
``Authorization`` headers echoed back, tokens in query strings or JSON). Every string that
leaves the registry package for a message or a log line goes through :func:`redact`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "<redacted>"

_PATTERNS = [
    # user:password@ in URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]*(?::[^/\s@]*)?@"), r"\1" + MASK + "@"),
    # Authorization / Proxy-Authorization header values
    (re.compile(r"(?i)\b((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)(?:basic|bearer)?\s*[^\s'\",}]+"),
     r"\1" + MASK),
    (re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # token-ish JSON fields and query/form parameters
    (re.compile(r"(?i)(['\"]?(?:access_token|refresh_token|identitytoken|registrytoken|token|password|secret"
                r"|auth)['\"]?\s*[:=]\s*['\"]?)[^\s'\"&,}]+"), r"\1" + MASK),
    # anything shaped like a JWT
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with known secret values and credential-shaped substrings masked."""
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders and redacts each record's message before handlers see it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True
