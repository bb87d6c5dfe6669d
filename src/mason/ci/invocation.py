"""Executor calls in script text: ``/kaniko/executor``, ``executor``, ``mason build|executor``.

Flags are read the way Kaniko's flag library reads them: ``--flag=value``, ``--flag value``
for flags that take a value, bare ``--flag`` for booleans (``--flag=false`` to turn off),
``-d value``/``-dvalue`` for the short forms, and the deprecated camelCase spellings
(``--snapshotMode``) mapped to their kebab-case names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mason.ci.located import LocStr
from mason.ci.shellwords import Command, split_commands

BOOLEAN_FLAGS = frozenset({
    "cache", "cleanup", "no-push", "reproducible", "single-snapshot", "skip-unused-stages", "insecure",
    "insecure-pull", "skip-tls-verify", "skip-tls-verify-pull", "use-new-run", "force", "ignore-var-run",
    "cache-copy-layers", "cache-run-layers", "compressed-caching", "no-push-cache", "log-timestamp",
    "skip-push-permission-check", "push-ignore-immutable-tag-errors", "skip-default-registry-fallback",
    "force-build-metadata",
})
SHORT_FLAGS = {"d": "destination", "f": "dockerfile", "c": "context", "v": "verbosity"}
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Flag:
    name: str            # canonical kebab-case long name
    value: str | None    # None for a bare boolean
    raw: str


@dataclass(frozen=True)
class Invocation:
    """One executor call found in a job's script."""

    program: str          # "/kaniko/executor", "executor", "mason build", ...
    kind: str             # "kaniko" (the executor binary) or "mason"
    flags: tuple[Flag, ...]
    positional: tuple[str, ...]
    section: str          # before_script / script / after_script
    entry: int            # index of the script entry holding the call
    file: str
    line: int
    in_loop: bool
    background: bool
    loop_runs: int | None = None   # see Command.loop_runs

    def values(self, name: str) -> list[str]:
        return [f.value for f in self.flags if f.name == name and f.value is not None]

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.flags)

    def boolean(self, name: str) -> bool | None:
        """The last setting of a boolean flag: True/False, or None if absent or not decidable
        (e.g. ``--cache=$USE_CACHE`` with the variable not defined in the pipeline)."""
        result = None
        for flag in self.flags:
            if flag.name != name:
                continue
            if flag.value is None or flag.value in _TRUE:
                result = True
            elif flag.value in _FALSE:
                result = False
            else:
                result = None
        return result

    @property
    def destinations(self) -> list[str]:
        return self.values("destination")

    @property
    def cache_enabled(self) -> bool:
        return self.boolean("cache") is True

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


def kebab(name: str) -> str:
    """``snapshotMode`` -> ``snapshot-mode`` (Kaniko's deprecated camelCase aliases)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "-" + m.group(1).lower(), name)


def classify(argv: list[str]) -> tuple[str, str, int] | None:
    """``(program, kind, index of first flag)`` if argv calls an executor, else None."""
    i = 0
    while i < len(argv) and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[i]) or argv[i] in ("exec", "time",
                                                                                           "command", "env")):
        i += 1  # VAR=value prefixes and transparent wrappers
    if i >= len(argv):
        return None
    base = argv[i].rsplit("/", 1)[-1]
    if base == "executor":
        return argv[i], "kaniko", i + 1
    if base == "mason" and i + 1 < len(argv) and argv[i + 1] in ("build", "executor"):
        return f"{argv[i]} {argv[i + 1]}", "mason", i + 2
    return None


def expand(word: str, variables: dict[str, str]) -> str:
    """Expand ``$VAR``/``${VAR}`` with the pipeline's own ``variables:``; unknown ones stay."""
    def repl(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))
    for _ in range(10):  # variables may refer to variables; bounded
        new = _VAR.sub(repl, word)
        if new == word:
            break
        word = new
    return word


def parse_flags(args: list[str]) -> tuple[tuple[Flag, ...], tuple[str, ...]]:
    flags: list[Flag] = []
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg[2:].partition("=")
            name = kebab(name)
        elif arg.startswith("-") and len(arg) > 1:
            short, rest = arg[1], arg[2:]
            name = SHORT_FLAGS.get(short, short)
            eq, value = ("=", rest[1:]) if rest.startswith("=") else (("=", rest) if rest else ("", ""))
        else:
            positional.append(arg)
            continue
        if eq:
            flags.append(Flag(name, value, arg))
        elif name in BOOLEAN_FLAGS:
            flags.append(Flag(name, None, arg))
        elif i < len(args):
            flags.append(Flag(name, args[i], f"{arg} {args[i]}"))
            i += 1
        else:
            flags.append(Flag(name, None, arg))
    return tuple(flags), tuple(positional)


def find_invocations(entries: list[LocStr], section: str, variables: dict[str, str]) -> list[Invocation]:
    """Every executor call in a script section, with the line that holds it."""
    found: list[Invocation] = []
    for index, entry in enumerate(entries):
        where = f"{getattr(entry, 'file', '?')}:{getattr(entry, 'line', 0)}"
        for command in split_commands(str(entry), where):
            inv = _invocation(command, entry, index, section, variables)
            if inv is not None:
                found.append(inv)
    return found


def commands_of(entries: list[LocStr]) -> list[tuple[LocStr, Command]]:
    out = []
    for entry in entries:
        where = f"{getattr(entry, 'file', '?')}:{getattr(entry, 'line', 0)}"
        out.extend((entry, c) for c in split_commands(str(entry), where))
    return out


def _invocation(command: Command, entry: LocStr, index: int, section: str,
                variables: dict[str, str]) -> Invocation | None:
    argv = command.argv
    hit = classify(argv)
    if hit is None:
        return None
    program, kind, start = hit
    args: list[str] = []
    for word in command.words[start:]:
        value = expand(word.value, variables)
        # An unquoted $ARGS holding several flags splits into words, as the shell does.
        args.extend(value.split() if (not word.quoted and value != word.value) else [value])
    flags, positional = parse_flags(args)
    line = entry.line_at(command.line_offset) if isinstance(entry, LocStr) else 0
    return Invocation(program=program, kind=kind, flags=flags, positional=positional, section=section,
                      entry=index, file=getattr(entry, "file", "?"), line=line, in_loop=command.in_loop,
                      background=command.background, loop_runs=command.loop_runs)
