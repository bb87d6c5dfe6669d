"""An ordered name → value map for scopes: immutable to its users, linear in memory.

A stage keeps the scope of every step (cache keys, ONBUILD), and each ENV or ARG line makes a
new scope. Copying the pairs at each step made memory quadratic in the Dockerfile's length
(4,000 ENV lines took 650 MB). Here every version of the map shares one append-only log:
a version is the log and a length; setting a name appends one entry. A version that is not
the log's tip (a scope extended twice) forks a copy of its own pairs first, so versions never
see each other's later entries. Lookups are a binary search over the positions of one name.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Mapping
from collections.abc import Iterable
from typing import Any, Iterator, cast

_REMOVED = object()


class _Log:
    __slots__ = ("entries", "positions", "lock")

    def __init__(self) -> None:
        self.entries: list[tuple[str, object]] = []
        self.positions: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    def append(self, key: str, value: object) -> None:
        self.positions.setdefault(key, []).append(len(self.entries))
        self.entries.append((key, value))


class Pairs:
    """One version of the map. Iterating yields ``(name, value)`` in the order names were
    last set (a name set again moves to the end, as Docker orders ``Env``)."""

    __slots__ = ("_log", "_n")

    def __init__(self, items: Iterable[tuple[str, str]] = (), *, _log: _Log | None = None, _n: int = 0):
        if _log is None:
            _log = _Log()
            for key, value in items:
                _log.append(key, value)
            _n = len(_log.entries)
        self._log, self._n = _log, _n

    def _extend(self, key: str, value: object) -> Pairs:
        log = self._log
        with log.lock:
            if len(log.entries) == self._n:
                log.append(key, value)
                return Pairs(_log=log, _n=self._n + 1)
        fork = Pairs(tuple(self))
        fork._log.append(key, value)
        return Pairs(_log=fork._log, _n=fork._n + 1)

    def set(self, key: str, value: str) -> Pairs:
        return self._extend(key, value)

    def remove(self, key: str) -> Pairs:
        return self._extend(key, _REMOVED) if key in self else self

    def get(self, key: str, default: Any = None) -> Any:
        positions = self._log.positions.get(key)
        if not positions:
            return default
        i = bisect.bisect_left(positions, self._n)
        if i == 0:
            return default
        value = self._log.entries[positions[i - 1]][1]
        return default if value is _REMOVED else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _REMOVED) is not _REMOVED

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _REMOVED)
        if value is _REMOVED:
            raise KeyError(key)
        return cast(str, value)

    def keys(self) -> list[str]:
        return [k for k, _ in self]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        latest: dict[str, object] = {}
        for key, value in self._log.entries[: self._n]:
            latest.pop(key, None)
            latest[key] = value
        return iter([(k, cast(str, v)) for k, v in latest.items() if v is not _REMOVED])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Pairs):
            return tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Pairs({tuple(self)!r})"


class Overlay(Mapping[str, str]):
    """A read-only mapping: names of ``top`` win over those of ``bottom`` (ENV over ARG) — the
    expansion environment, without copying either map."""

    __slots__ = ("_top", "_bottom")

    def __init__(self, top: Pairs, bottom: Pairs) -> None:
        self._top, self._bottom = top, bottom

    def get(self, key: str, default: Any = None) -> Any:
        value = self._top.get(key, _REMOVED)
        if value is _REMOVED:
            value = self._bottom.get(key, _REMOVED)
        return default if value is _REMOVED else value

    def __contains__(self, key: object) -> bool:
        return key in self._top or key in self._bottom

    def __getitem__(self, key: str) -> str:
        value = self.get(key, _REMOVED)
        if value is _REMOVED:
            raise KeyError(key)
        return cast(str, value)

    def _merged(self) -> dict[str, str]:
        out = dict(self._bottom)
        out.update(self._top)
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self._merged())

    def __len__(self) -> int:
        return len(self._merged())
