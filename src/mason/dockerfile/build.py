"""Parse-tree node -> typed instruction, with BuildKit's per-instruction validation.

Error texts follow BuildKit's (``X requires at least one argument``, ``unknown flag: ...``)
and always carry the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from mason.dockerfile import instructions as ins
from mason.dockerfile.flags import parse_flags
from mason.dockerfile.suggest import closest
from mason.dockerfile.parser import KNOWN_COMMANDS, parse_heredoc_word
from mason.dockerfile.syntax import Node, chomp_heredoc
from mason.dockerfile.values import check_chmod, parse_go_duration
from mason.errors import DockerfileError

if TYPE_CHECKING:
    from mason.dockerfile.mounts import Mount

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")
_NAMES = sorted(c.upper() for c in KNOWN_COMMANDS)


def build_instruction(node: Node, escape: str = "\\") -> ins.Instruction:
    """Validate one node and return its typed record; raises ``DockerfileError``."""
    loc = node.location

    def fail(msg: str, hint: str | None = None) -> DockerfileError:
        return DockerfileError(msg, file=loc.file, line=loc.start_line, end_line=loc.end_line, hint=hint)

    builder = _BUILDERS.get(node.cmd)
    if builder is None:
        written = node.original.split(None, 1)[0] if node.original.strip() else node.cmd
        match = closest(written, _NAMES, case_sensitive=False)
        hint = f"did you mean {match}?" if match else None
        raise fail(f"unknown instruction: {node.cmd.upper()}", hint or "see the Dockerfile reference for instructions")
    try:
        flags = parse_flags(node.cmd, node.flags, file=loc.file, line=loc.start_line, end_line=loc.end_line)
        return builder(node, flags, dict(location=loc, original=node.original, escape=escape), fail)
    except ValueError as exc:
        raise fail(f"{node.cmd.upper()}: {exc}") from None


def _from(node, flags, base, fail):
    args = node.args
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise fail(f"invalid name for build stage: {args[2]!r}, name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise fail("FROM requires either one or three arguments", "use FROM image [AS name]")
    else:
        name = None
    return ins.From(base=args[0], stage_name=name, platform=flags.get("platform"), **base)


def _arg(node, flags, base, fail):
    if not node.args:
        raise fail("ARG requires at least one argument")
    decls = []
    for word in node.args:
        name, eq, value = word.partition("=")
        if not name:
            raise fail("ARG names can not be blank")
        decls.append(ins.ArgDecl(name, value if eq else None))
    return ins.Arg(args=tuple(decls), **base)


def _env(cls, what):
    def build(node, flags, base, fail):
        if not node.pairs:
            raise fail(f"{what} requires at least one argument")
        for p in node.pairs:
            if not p.key:
                raise fail(f"{what} names can not be blank")
        pairs = tuple(ins.Pair(p.key, p.value) for p in node.pairs)
        return cls(pairs=pairs, legacy=node.pairs[0].sep == "", **base)
    return build


def _parse_mounts(raw: Sequence[str]) -> tuple[Mount, ...]:
    if not raw:
        return ()
    from mason.dockerfile.mounts import parse_mount  # Local: mounts (and csv) load only for a RUN --mount

    return tuple(parse_mount(m) for m in raw)


def _command(cls, what, allow_empty):
    def build(node, flags, base, fail):
        if not node.args and not allow_empty:
            raise fail(f"{what} requires at least one argument")
        extra = {}
        if cls is ins.Run:
            try:
                mounts = _parse_mounts(flags.get("mount", ()))
            except ValueError as exc:
                raise fail(f"RUN --mount: {exc}") from None
            network = flags.get("network")
            if network is not None and network not in ("default", "none", "host"):
                raise fail(f"unsupported network mode {network!r} (one of default, none, host)")
            security = flags.get("security")
            if security is not None and security not in ("sandbox", "insecure"):
                raise fail(f"unsupported security mode {security!r} (one of sandbox, insecure)")
            extra = dict(heredocs=node.heredocs, mounts=mounts, network=network, security=security)
        return cls(command=tuple(node.args), prepend_shell=not node.json, **extra, **base)
    return build


def _shell(node, flags, base, fail):
    if not node.args:
        raise fail("SHELL requires at least one argument")
    if not node.json:
        raise fail("SHELL requires the arguments to be in JSON form", 'e.g. SHELL ["/bin/bash", "-c"]')
    return ins.Shell(shell=tuple(node.args), **base)


def _sources(node, what, fail):
    if len(node.args) < 2:
        raise fail(f"{what} requires at least two arguments, but only one was provided. "
                   "Destination could not be determined." if node.args else f"{what} requires at least two arguments")
    *srcs, dest = node.args
    if not node.json and parse_heredoc_word(dest) is not None:
        raise fail(f"{what} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in node.heredocs}
    paths, inline = [], []
    for src in srcs:
        doc = parse_heredoc_word(src) if not node.json else None
        if doc is not None and doc.name in by_name:
            content = by_name[doc.name].content
            inline.append(ins.InlineSource(doc.name, chomp_heredoc(content) if doc.chomp else content, doc.expand))
        else:
            paths.append(src)
    return tuple(paths), dest, tuple(inline)


def _check_chmod(flags, fail):
    chmod = flags.get("chmod")
    if chmod is not None and "$" not in chmod:
        problem = check_chmod(chmod)
        if problem:
            raise fail(problem)


def _copy(node, flags, base, fail):
    sources, dest, inline = _sources(node, "COPY", fail)
    _check_chmod(flags, fail)
    src_from = flags.get("from")
    if src_from is not None and "$" in src_from[:-1]:
        raise fail("'--from' doesn't support variable expansion, define alias stage instead",
                   "add 'FROM ${VAR} AS alias' and use COPY --from=alias")
    if src_from == "":
        raise fail("COPY --from requires a stage name, stage index or image")
    return ins.Copy(sources=sources, dest=dest, inline=inline, from_=src_from, chown=flags.get("chown"),
                    chmod=flags.get("chmod"), link=bool(flags.get("link", False)),
                    parents=bool(flags.get("parents", False)), excludes=tuple(flags.get("exclude", ())), **base)


def _add(node, flags, base, fail):
    sources, dest, inline = _sources(node, "ADD", fail)
    _check_chmod(flags, fail)
    add = ins.Add(sources=sources, dest=dest, inline=inline, chown=flags.get("chown"), chmod=flags.get("chmod"),
                  link=bool(flags.get("link", False)), checksum=flags.get("checksum"),
                  keep_git_dir=flags.get("keep-git-dir"), unpack=flags.get("unpack"),
                  excludes=tuple(flags.get("exclude", ())), **base)
    add.check_checksum()
    return add


def _at_least_one(cls, what, attr):
    def build(node, flags, base, fail):
        if not node.args:
            raise fail(f"{what} requires at least one argument")
        values = tuple(node.args)
        if cls is ins.Volume:
            values = tuple(v.strip() for v in values)
            if any(not v for v in values):
                raise fail("VOLUME specified can not be an empty string")
        return cls(**{attr: values}, **base)
    return build


def _exactly_one(cls, what, attr):
    def build(node, flags, base, fail):
        if len(node.args) != 1:
            raise fail(f"{what} requires exactly one argument")
        return cls(**{attr: node.args[0]}, **base)
    return build


def _duration(flags, name, fail) -> int:
    value = flags.get(name)
    if not value:
        return 0
    try:
        ns = parse_go_duration(value)
    except ValueError as exc:
        raise fail(f"HEALTHCHECK --{name}: {exc}") from None
    if ns == 0:
        return 0            # BuildKit's parseOptInterval: zero is "not set", not too short
    if ns < 1_000_000:
        raise fail(f'Interval "{name}" cannot be less than 1ms')
    return ns


def _healthcheck(node, flags, base, fail):
    if not node.args:
        raise fail("HEALTHCHECK requires at least one argument")
    kind = node.args[0].upper()
    rest = node.args[1:]
    if kind == "NONE":
        if rest:
            raise fail("HEALTHCHECK NONE takes no arguments")
        if flags:
            raise fail("HEALTHCHECK NONE takes no flags")
        return ins.Healthcheck(test=("NONE",), **base)
    if kind != "CMD":
        raise fail(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not rest:
        raise fail("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *rest) if node.json else ("CMD-SHELL", " ".join(rest))
    retries = 0
    if flags.get("retries"):
        try:
            retries = int(flags["retries"], 10)
        except ValueError:
            raise fail(f"HEALTHCHECK --retries: invalid number {flags['retries']!r}") from None
        if retries < 1:
            raise fail(f"--retries must be at least 1 (not {retries})")
    return ins.Healthcheck(test=test, interval=_duration(flags, "interval", fail),
                           timeout=_duration(flags, "timeout", fail),
                           start_period=_duration(flags, "start-period", fail),
                           start_interval=_duration(flags, "start-interval", fail), retries=retries, **base)


def _onbuild(node, flags, base, fail):
    child = node.child
    if child is None:
        raise fail("ONBUILD requires at least one argument")
    trigger = child.cmd.upper()
    if trigger == "ONBUILD":
        raise fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise fail(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for doc in node.heredocs:
        expression += "\n" + doc.content + doc.name
    return ins.Onbuild(expression=expression, trigger=child, **base)


_BUILDERS = MappingProxyType({
    "from": _from,
    "arg": _arg,
    "env": _env(ins.Env, "ENV"),
    "label": _env(ins.Label, "LABEL"),
    "run": _command(ins.Run, "RUN", False),
    "cmd": _command(ins.Cmd, "CMD", True),
    "entrypoint": _command(ins.Entrypoint, "ENTRYPOINT", True),
    "shell": _shell,
    "copy": _copy,
    "add": _add,
    "expose": _at_least_one(ins.Expose, "EXPOSE", "ports"),
    "volume": _at_least_one(ins.Volume, "VOLUME", "paths"),
    "user": _exactly_one(ins.User, "USER", "user"),
    "workdir": _exactly_one(ins.Workdir, "WORKDIR", "path"),
    "stopsignal": _exactly_one(ins.StopSignal, "STOPSIGNAL", "signal"),
    "maintainer": _exactly_one(ins.Maintainer, "MAINTAINER", "maintainer"),
    "healthcheck": _healthcheck,
    "onbuild": _onbuild,
})
