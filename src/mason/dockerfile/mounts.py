"""``RUN --mount=...``: BuildKit's mount option grammar for bind, cache, tmpfs, secret and ssh.

The option string is CSV (quotes allowed); keys are case-insensitive. Values may contain
variables: at parse time they are checked only when they contain no ``$``; ``expand_mount``
re-parses with every value expanded, so the executor always sees validated values.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass

from mason.dockerfile.suggest import with_suggestion
from mason.errors import DockerfileError

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
MOUNT_KEYS = ("type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro", "readwrite",
              "rw", "required", "id", "sharing", "mode", "uid", "gid", "size", "env")
SHARING_MODES = ("shared", "private", "locked")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@dataclass(frozen=True)
class Mount:
    """One ``--mount``; ``None`` means "not given" (the executor applies BuildKit's defaults:
    cache id = target, secret target = /run/secrets/<id>, ssh id = "default", ...)."""

    type: str = "bind"
    source: str | None = None
    target: str | None = None
    from_: str | None = None
    readonly: bool = True
    id: str | None = None
    sharing: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None
    env: str | None = None
    raw: str = ""


def _parse_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"invalid value for {key}: {value}")


def _parse_size(value: str) -> int:
    m = _SIZE.match(value.strip())
    if m is None:
        raise ValueError(f"invalid value for size: {value}")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def parse_mount(value: str, *, expand: Callable[[str], str] | None = None) -> Mount:
    """Parse one ``--mount`` value; raises ``ValueError`` with BuildKit's message."""
    try:
        fields = next(csv.reader([value], skipinitialspace=False), [])
    except csv.Error as exc:
        raise ValueError(f"invalid mount option {value!r}: {exc}") from None
    kw: dict = {"type": "bind", "raw": value}
    ro_auto = True
    for field in fields:
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                kw["readonly"], ro_auto = True, False
            elif key in ("readwrite", "rw"):
                kw["readonly"], ro_auto = False, False
            elif key == "required":
                if kw["type"] not in ("secret", "ssh"):
                    raise ValueError(f"unexpected key '{key}' for mount type '{kw['type']}'")
                kw["required"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        if expand is not None:
            val = expand(val)
        elif key == "from" and "$" in val[:-1]:
            raise ValueError(f"'{key}' doesn't support variable expansion, define alias stage instead")
        deferred = expand is None and "$" in val
        if key == "type":
            if not deferred and val.lower() not in MOUNT_TYPES:
                raise ValueError(with_suggestion(f"unsupported mount type {val!r} (one of {', '.join(MOUNT_TYPES)})",
                                                 val, MOUNT_TYPES))
            kw["type"] = val.lower()
        elif key == "from":
            kw["from_"] = val
        elif key in ("source", "src"):
            kw["source"] = val
        elif key in ("target", "dst", "destination"):
            kw["target"] = val
        elif key in ("readonly", "ro"):
            if not deferred:
                kw["readonly"] = _parse_bool(key, val)
            ro_auto = False
        elif key in ("readwrite", "rw"):
            if not deferred:
                kw["readonly"] = not _parse_bool(key, val)
            ro_auto = False
        elif key == "required":
            if kw["type"] not in ("secret", "ssh"):
                raise ValueError(f"unexpected key '{key}' for mount type '{kw['type']}'")
            if not deferred:
                kw["required"] = _parse_bool(key, val)
        elif key == "id":
            kw["id"] = val
        elif key == "sharing":
            if not deferred and val and val.lower() not in SHARING_MODES:
                raise ValueError(f"unsupported sharing value {val!r} (one of {', '.join(SHARING_MODES)})")
            kw["sharing"] = val.lower() or None
        elif key == "mode":
            if not deferred:
                try:
                    kw["mode"] = int(val, 8)
                except ValueError:
                    raise ValueError(f"invalid value {val} for mode") from None
        elif key in ("uid", "gid"):
            if not deferred:
                if not val.isdigit():
                    raise ValueError(f"invalid value {val} for {key}")
                kw[key] = int(val)
        elif key == "size":
            if not deferred:
                kw["size"] = _parse_size(val)
        elif key == "env":
            kw["env"] = val
        else:
            raise ValueError(with_suggestion(f"unexpected key '{key}' in '{field}'", key, MOUNT_KEYS))
    mtype = kw["type"]
    if mtype not in ("secret", "ssh", "cache"):
        for key in ("mode", "uid", "gid"):
            if kw.get(key) is not None:
                raise ValueError(f"{key} not allowed for {mtype!r} type mounts")
    if ro_auto:
        kw["readonly"] = mtype not in ("cache", "tmpfs")
    if kw.get("sharing") and mtype != "cache":
        raise ValueError(f"invalid cache sharing set for {mtype} mount")
    if mtype == "secret":
        if kw.get("from_"):
            raise ValueError("secret mount should not have a from")
        if not kw.get("source") and not kw.get("target") and not kw.get("id") and not kw.get("env"):
            raise ValueError("invalid secret mount. one of source, target required")
        if kw.get("source") and kw.get("id"):
            raise ValueError("both source and id can't be set")
    if mtype != "tmpfs" and kw.get("size") is not None:
        raise ValueError(f"size not allowed for {mtype!r} type mounts")
    return Mount(**kw)


def mount_error(exc: ValueError, *, file: str, line: int) -> DockerfileError:
    return DockerfileError(f"RUN --mount: {exc}", file=file, line=line)
