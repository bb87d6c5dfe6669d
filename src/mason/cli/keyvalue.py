"""``KEY=VALUE`` flag values, split the same way and refused with the same message everywhere."""

from __future__ import annotations

from typing import Iterable

from mason.errors import UsageError


def split_key_value(raw: str, flag: str, example: str = "KEY=VALUE") -> tuple[str, str]:
    """``raw`` split at its first ``=``; a missing ``=`` or an empty key names the flag and the form."""
    key, eq, value = raw.partition("=")
    if not eq or not key:
        raise UsageError(f"{flag} {raw!r}: expected {example}")
    return key, value


def key_value_map(items: Iterable[str], flag: str, example: str = "KEY=VALUE") -> dict[str, str]:
    """Every value of a repeatable flag as a mapping; a later key replaces an earlier one."""
    return dict(split_key_value(raw, flag, example) for raw in items)
