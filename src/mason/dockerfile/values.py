"""Small value grammars used by instructions: Go durations, chmod modes, ports, platforms, digests."""

from __future__ import annotations

import re
from types import MappingProxyType

_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")
_UNITS_NS = MappingProxyType({"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000})
_SYMBOLIC = re.compile(r"^[ugoa]*[-+=]([rwxXst]*|[ugo])([-+=]([rwxXst]*|[ugo]))*$")
_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/([A-Za-z]+))?$")
_DIGEST = re.compile(r"^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` -> nanoseconds; raises ValueError like Go (``time: invalid duration``)."""
    s = text
    sign = 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            if m is not None or not re.match(r"\d*\.?\d*$", s[pos:]):
                raise ValueError(f'time: invalid duration "{text}"')
            raise ValueError(f'time: missing unit in duration "{text}"')
        total += float(m.group(1)) * _UNITS_NS[m.group(2)]
        pos = m.end()
    return sign * int(round(total))


def format_duration(ns: int) -> str:
    if ns % 1_000_000_000 == 0:
        return f"{ns // 1_000_000_000}s"
    return f"{ns / 1e9:g}s"


def check_chmod(value: str) -> str | None:
    """None when ``value`` is an octal mode or a symbolic mode (``u+x,g-w``), else the problem."""
    if value and all(c in "01234567" for c in value):
        if int(value, 8) > 0o7777:
            return f"invalid chmod parameter {value!r}: mode out of range"
        return None
    if all(_SYMBOLIC.match(part) for part in value.split(",")) and value:
        return None
    return f"invalid chmod parameter {value!r}: use an octal mode (e.g. 0755) or a symbolic mode (e.g. u+x,g-w)"


def parse_port(spec: str) -> tuple[int, int, str]:
    """``80``, ``80/tcp``, ``53/udp``, ``8000-8010/tcp`` -> (first, last, protocol)."""
    m = _PORT.match(spec)
    if m is None:
        raise ValueError(f"invalid port specification {spec!r} (expected PORT[/PROTOCOL] or START-END[/PROTOCOL])")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else first
    proto = (m.group(3) or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid protocol {m.group(3)!r} in port {spec!r} (tcp, udp or sctp)")
    if not (0 < first <= 65535 and 0 < last <= 65535) or last < first:
        raise ValueError(f"invalid port range {spec!r}")
    return first, last, proto


def is_digest(value: str) -> bool:
    return bool(_DIGEST.match(value))


def split_platform(value: str) -> tuple[str, str, str]:
    """``os/arch[/variant]`` -> (os, arch, variant); raises ValueError when malformed."""
    parts = value.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"invalid platform {value!r}: expected os/arch[/variant], e.g. linux/amd64")
    return parts[0].lower(), parts[1].lower(), parts[2].lower() if len(parts) == 3 else ""


# moby/sys/signal's Linux SignalMap: the names STOPSIGNAL accepts (with or without "SIG").
_SIGNAL_NAMES = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV STKFLT "
    "STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ RTMIN RTMAX".split()
    + [f"RTMIN+{i}" for i in range(1, 16)] + [f"RTMAX-{i}" for i in range(1, 15)])


def check_signal(text: str) -> str:
    """``text`` if it names a signal as ``signal.ParseSignal`` reads it (a non-zero number, or
    a name in any case with or without ``SIG``); else ``ValueError("Invalid signal: …")``."""
    try:
        if int(text, 10) != 0:
            return text
    except ValueError:
        upper = text.upper()
        if (upper[3:] if upper.startswith("SIG") else upper) in _SIGNAL_NAMES:
            return text
    raise ValueError(f"Invalid signal: {text}")
