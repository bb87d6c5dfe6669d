"""Instruction flags: which ones each instruction accepts, and BuildKit's flag grammar.

``--name=value`` sets a string flag, ``--name`` / ``--name=true|false`` a boolean one;
repeatable flags (``--mount``, ``--exclude``) collect every value; any other repetition is
an error; ``--`` ends the flags. Values are the parser's raw strings (quotes removed,
variables not yet expanded).
"""

from __future__ import annotations

from types import MappingProxyType
from collections.abc import Mapping

from mason.dockerfile.suggest import closest
from mason.errors import DockerfileError

STRING, BOOL, STRINGS = "string", "bool", "strings"

FLAG_SPECS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "from": {"platform": STRING},
    "run": {"mount": STRINGS, "network": STRING, "security": STRING},
    "copy": {"from": STRING, "chown": STRING, "chmod": STRING, "link": BOOL, "parents": BOOL, "exclude": STRINGS},
    "add": {"chown": STRING, "chmod": STRING, "link": BOOL, "checksum": STRING, "keep-git-dir": BOOL,
            "unpack": BOOL, "exclude": STRINGS},
    "healthcheck": {"interval": STRING, "timeout": STRING, "start-period": STRING, "start-interval": STRING,
                    "retries": STRING},
})


def did_you_mean(word: str, options) -> str | None:
    """BuildKit's suggestion for a misspelt flag (``util/suggest``, case-sensitive)."""
    match = closest(word, options)
    return f"did you mean {match}?" if match else None


def parse_flags(cmd: str, raw: tuple[str, ...], *, file: str, line: int,
                end_line: int | None = None) -> Mapping[str, object]:
    """Validate raw flags against ``FLAG_SPECS[cmd]``; return name -> str | bool | tuple[str, ...]."""
    spec = FLAG_SPECS.get(cmd, {})
    values: dict[str, object] = {}
    where = cmd.upper()

    def fail(msg: str, hint: str | None = None) -> DockerfileError:
        return DockerfileError(f"{where}: {msg}", file=file, line=line, end_line=end_line, hint=hint)

    for arg in raw:
        if not arg.startswith("--"):
            raise fail(f"arg should start with -- : {arg}")
        if arg == "--":
            break
        name, eq, value = arg[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            allowed = ", ".join("--" + f for f in spec) or "none"
            hint = did_you_mean(name, spec) if spec else None
            raise fail(f"unknown flag: --{name} (flags allowed on {where}: {allowed})", hint)
        if name in values and kind != STRINGS:
            raise fail(f"duplicate flag specified: --{name}")
        if kind == BOOL:
            if eq and value == "":
                raise fail(f"missing a value on flag: --{name}")
            low = value.lower()
            if low in ("true", ""):
                values[name] = True
            elif low == "false":
                values[name] = False
            else:
                raise fail(f"expecting boolean value for flag --{name}, not: {value}")
        else:
            if not eq:
                raise fail(f"missing a value on flag: --{name}")
            if kind == STRINGS:
                values[name] = (*values.get(name, ()), value)
            else:
                values[name] = value
    return values
