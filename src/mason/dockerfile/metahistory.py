"""The history ``created_by`` BuildKit's dockerfile2llb writes for a metadata instruction.

BuildKit does not record the instruction as written: it formats what the instruction did with
Go's ``fmt`` verbs (frontend/dockerfile/dockerfile2llb/convert.go, v0.11.6), so ``EXPOSE 80``
is ``EXPOSE map[80/tcp:{}]``, ``SHELL ["/bin/sh", "-c"]`` is ``SHELL [/bin/sh -c]``, a
shell-form ``CMD`` is its ``/bin/sh -c`` argv quoted by ``%q``, variables are expanded, and
``ONBUILD`` writes no entry at all. The Go formatting rules are written out below (strings
quoted as ``strconv.Quote``, durations as ``time.Duration.String``, an int under ``%q`` as a
quoted rune), so the text is byte for byte BuildKit's.
"""

from __future__ import annotations

from typing import Any, Sequence

from mason.dockerfile import instructions as di

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v",
            "\\": "\\\\"}


def go_quote(text: str, quote: str = '"') -> str:
    """``strconv.Quote`` (or ``QuoteRune`` with ``quote="'"``): printable characters kept."""
    out = [quote]
    for ch in text:
        if ch == quote:
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append(quote)
    return "".join(out)


def go_quoted_list(items: Sequence[str]) -> str:
    """``fmt.Sprintf("%q", []string{…})``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_list(items: Sequence[str]) -> str:
    """``fmt.Sprintf("%v", []string{…})``: ``[a b]``."""
    return "[" + " ".join(items) + "]"


def go_duration(ns: int) -> str:
    """``time.Duration(ns).String()``: ``0s``, ``500ms``, ``1.5s``, ``1m30s``, ``2h0m0s``."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_fraction(ns, 1000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_fraction(ns, 1_000_000)}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = f"{_fraction(rest, 10**9)}s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def created_by(ins: Any, config: dict[str, Any]) -> str | None:
    """The entry's text for ``ins`` (expanded), given the stage's config after it; None: no
    entry (ONBUILD). ``config`` is the image config's ``config`` object."""
    if isinstance(ins, di.Onbuild):
        return None
    if isinstance(ins, di.Env):         # ENV and LABEL (a subclass): key=value, expanded
        return " ".join([ins.name, *(f"{p.key}={p.value}" for p in ins.pairs)])
    if isinstance(ins, di.Arg):
        return "ARG " + " ".join(a.name if a.default is None else f"{a.name}={a.default}" for a in ins.args)
    if isinstance(ins, di.Cmd):
        return f"CMD {go_quoted_list(config.get('Cmd') or [])}"
    if isinstance(ins, di.Entrypoint):
        return f"ENTRYPOINT {go_quoted_list(config.get('Entrypoint') or [])}"
    if isinstance(ins, di.Healthcheck):
        hc = config.get("Healthcheck") or {}
        fields = [go_quoted_list(hc.get("Test") or []),
                  *(go_quote(go_duration(int(hc.get(k) or 0))) for k in ("Interval", "Timeout", "StartPeriod")),
                  go_quote(chr(int(hc.get("Retries") or 0)), "'")]
        return "HEALTHCHECK &{" + " ".join(fields) + "}"
    if isinstance(ins, di.Expose):      # the ports this instruction added, as Go prints a map
        ports = sorted(set(_expanded_ports(ins)))
        return "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in ports) + "]"
    if isinstance(ins, di.Volume):
        return f"VOLUME {go_list(ins.paths)}"
    if isinstance(ins, di.Shell):
        return f"SHELL {go_list(ins.shell)}"
    if isinstance(ins, di.User):
        return f"USER {ins.user}"
    if isinstance(ins, di.StopSignal):
        return f"STOPSIGNAL {ins.signal}"
    if isinstance(ins, di.Maintainer):
        return f"MAINTAINER {ins.maintainer}"
    raise AssertionError(f"{ins.name} is not a metadata instruction")


def _expanded_ports(ins: di.Expose) -> list[str]:
    out: list[str] = []
    for port in ins.ports:
        number, _, proto = port.partition("/")
        first, _, last = number.partition("-")
        lo, hi = int(first), int(last or first)
        out.extend(f"{p}/{(proto or 'tcp').lower()}" for p in range(lo, hi + 1))
    return out
