"""'did you mean …?' as BuildKit's ``util/suggest`` computes it.

The closest option by Levenshtein distance, if closer than 3 edits (the first such wins on a
tie); an exact match means the value was not the problem, so nothing is suggested. Case-
insensitive searches give the match in the value's case when that is all-lower or all-upper.
"""

from __future__ import annotations

from collections.abc import Iterable


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(value: str, options: Iterable[str], *, case_sensitive: bool = True) -> str | None:
    """The option to suggest for ``value``, or None."""
    if not value:
        return None
    wanted = value if case_sensitive else value.lower()
    match, best = None, 3
    for option in options:
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return None
        distance = levenshtein(wanted, candidate)
        if distance < best:
            match, best = candidate, distance
    if match is None or case_sensitive:
        return match
    if value == value.lower():
        return match.lower()
    if value == value.upper():
        return match.upper()
    return match


def with_suggestion(message: str, value: str, options: Iterable[str], *, case_sensitive: bool = True) -> str:
    """``message`` followed by `` (did you mean X?)`` when an option is close to ``value``."""
    match = closest(value, options, case_sensitive=case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message
