"""Typed, immutable instruction records, built from parse-tree nodes with BuildKit's validation.

Every record has ``location`` (file, start_line, end_line), ``original`` (the instruction
line) and ``escape`` (the file's escape character). ``expand(env)`` returns a copy with the
words that BuildKit expands substituted from ``env`` (ADD, COPY, ENV, EXPOSE, FROM, LABEL,
STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, RUN --mount values); RUN/CMD/ENTRYPOINT/SHELL/
HEALTHCHECK/MAINTAINER are returned unchanged (the shell does that work) and ONBUILD is
deferred to the child image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mason.dockerfile.expand import expand_heredoc, expand_word, expand_words
from mason.dockerfile.syntax import Heredoc, Location, Node
from mason.dockerfile.values import check_signal, is_digest
from mason.errors import DockerfileError

if TYPE_CHECKING:   # RUN --mount is parsed where a RUN has one (mounts loads csv)
    from mason.dockerfile.mounts import Mount


@dataclass(frozen=True, kw_only=True)
class Instruction:
    """What every instruction carries: where it is and its original text."""

    location: Location
    original: str = ""
    escape: str = field(default="\\", compare=False)
    name = "?"

    def expand(self, env: Mapping[str, str]) -> Instruction:
        """A copy with BuildKit's expansion applied (unchanged for non-expanding instructions).

        Errors (bad substitution, ``${X:?}`` on an unset X, an invalid mount value after
        expansion) are raised as ``DockerfileError`` located at this instruction.
        """
        try:
            return self._expand(env)
        except (DockerfileError, ValueError) as exc:
            raise self._located(exc) from None

    def _located(self, exc: Exception) -> DockerfileError:
        msg = exc.message if isinstance(exc, DockerfileError) else str(exc)
        return DockerfileError(f"{self.name}: {msg}", file=self.location.file, line=self.location.start_line,
                               end_line=self.location.end_line, hint=getattr(exc, "hint", None))

    def _expand(self, env: Mapping[str, str]) -> Instruction:
        return self

    def _w(self, word: str | None, env: Mapping[str, str]) -> str | None:
        return None if word is None else expand_word(word, env, self.escape)


@dataclass(frozen=True)
class ArgDecl:
    """One ``name[=default]`` of an ARG."""

    name: str
    default: str | None = None


@dataclass(frozen=True)
class Pair:
    """One ``key=value`` of ENV or LABEL."""

    key: str
    value: str


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    """``FROM [--platform=…] base [AS name]``."""

    name = "FROM"
    base: str
    stage_name: str | None = None
    platform: str | None = None

    def _expand(self, env):
        return replace(self, base=self._w(self.base, env), platform=self._w(self.platform, env))


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    """``ARG name[=default] …``."""

    name = "ARG"
    args: tuple[ArgDecl, ...]

    def expand(self, env: Mapping[str, str], given: frozenset[str] | set[str] = frozenset()) -> Arg:
        """``given``: the names a ``--build-arg`` sets. Their defaults are not expanded (the
        value replaces them, so ``ARG X=${Y:?required}`` with ``--build-arg X=1`` builds), as
        newer BuildKit's dispatchArg and buildMetaArgs do (v0.11.6 expanded the default first)."""
        try:
            return replace(self, args=tuple(ArgDecl(self._w(a.name, env), None if a.name in given else
                                                    self._w(a.default, env)) for a in self.args))
        except (DockerfileError, ValueError) as exc:
            raise self._located(exc) from None


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    """``legacy`` is the ``ENV key value`` form (BuildKit warns about it)."""

    name = "ENV"
    pairs: tuple[Pair, ...]
    legacy: bool = False

    def _expand(self, env):
        return replace(self, pairs=tuple(Pair(self._w(p.key, env), self._w(p.value, env)) for p in self.pairs))


@dataclass(frozen=True, kw_only=True)
class Label(Env):
    """``LABEL key=value …``."""

    name = "LABEL"


@dataclass(frozen=True, kw_only=True)
class _CommandLine(Instruction):
    """``command`` is the exec-form array, or a 1-tuple of shell text when ``prepend_shell``."""

    command: tuple[str, ...]
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class Run(_CommandLine):
    """``heredocs`` are the bodies following the line; BuildKit runs a lone ``<<EOF`` as a
    script with the shell, and otherwise feeds the command plus the bodies to the shell."""

    name = "RUN"
    heredocs: tuple[Heredoc, ...] = ()
    mounts: tuple[Mount, ...] = ()
    network: str | None = None
    security: str | None = None

    def _expand(self, env):
        if not self.mounts:   # as below, with nothing to parse
            return replace(self, mounts=())
        from mason.dockerfile.mounts import parse_mount  # Local: only a RUN with --mount needs it

        def ex(word: str) -> str:
            return expand_word(word, env, self.escape)

        return replace(self, mounts=tuple(parse_mount(m.raw, expand=ex) for m in self.mounts))


@dataclass(frozen=True, kw_only=True)
class Cmd(_CommandLine):
    """``CMD``: the image's default command."""

    name = "CMD"


@dataclass(frozen=True, kw_only=True)
class Entrypoint(_CommandLine):
    """``ENTRYPOINT``: the image's entrypoint."""

    name = "ENTRYPOINT"


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    """``SHELL ["executable", "params"]``: the shell for later shell-form commands."""

    name = "SHELL"
    shell: tuple[str, ...]


@dataclass(frozen=True)
class InlineSource:
    """A heredoc used as a COPY/ADD source: written to ``name`` with ``data`` (tabs already
    chomped for ``<<-``; expanded with ``expand_heredoc`` by ``expand`` when ``expand``)."""

    name: str
    data: str
    expand: bool


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    """``COPY [flags] src… dest`` (heredoc sources kept inline)."""

    name = "COPY"
    sources: tuple[str, ...]
    dest: str
    inline: tuple[InlineSource, ...] = ()
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()

    def _expand(self, env):
        return replace(
            self, sources=tuple(self._w(s, env) for s in self.sources), dest=self._w(self.dest, env),
            inline=tuple(replace(s, data=expand_heredoc(s.data, env)) if s.expand else s for s in self.inline),
            chown=self._w(self.chown, env), chmod=self._w(self.chmod, env),
            excludes=tuple(self._w(e, env) for e in self.excludes))


@dataclass(frozen=True, kw_only=True)
class Add(Instruction):
    """``ADD [flags] src… dest``: local paths, URLs and git repositories; local archives unpacked."""

    name = "ADD"
    sources: tuple[str, ...]
    dest: str
    inline: tuple[InlineSource, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    checksum: str | None = None
    keep_git_dir: bool | None = None
    unpack: bool | None = None
    excludes: tuple[str, ...] = ()

    def _expand(self, env):
        out = replace(
            self, sources=tuple(self._w(s, env) for s in self.sources), dest=self._w(self.dest, env),
            inline=tuple(replace(s, data=expand_heredoc(s.data, env)) if s.expand else s for s in self.inline),
            chown=self._w(self.chown, env), chmod=self._w(self.chmod, env),
            checksum=self._w(self.checksum, env), excludes=tuple(self._w(e, env) for e in self.excludes))
        out.check_checksum()
        return out

    def check_checksum(self) -> None:
        """``--checksum`` must be a digest and is only meaningful for URL and git sources."""
        if not self.checksum or "$" in self.checksum:
            return
        if not is_digest(self.checksum):
            raise ValueError(f"--checksum {self.checksum!r} is not a digest (expected sha256:<64 hex digits>)")
        for src in self.sources:
            if "$" not in src and not is_remote_source(src):
                raise ValueError(f"checksum can't be specified for non-HTTP(S) and non-git source {src!r}")


def is_remote_source(src: str) -> bool:
    """An ADD source that is fetched rather than read from the context: http(s) URL or git."""
    low = src.lower()
    return low.startswith(("http://", "https://", "git@", "git://", "ssh://"))


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    """``ports`` as written; after ``expand`` each entry is one ``PORT[/PROTO]`` or range."""

    name = "EXPOSE"
    ports: tuple[str, ...]

    def _expand(self, env):
        out: list[str] = []
        for p in self.ports:
            out.extend(expand_words(p, env, self.escape))
        return replace(self, ports=tuple(out))


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    """``VOLUME path…``."""

    name = "VOLUME"
    paths: tuple[str, ...]

    def _expand(self, env):
        return replace(self, paths=tuple(self._w(p, env) for p in self.paths))


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    """``user`` is ``user[:group]`` (names or numeric ids)."""

    name = "USER"
    user: str

    def _expand(self, env):
        return replace(self, user=self._w(self.user, env))


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    """``WORKDIR path``."""

    name = "WORKDIR"
    path: str

    def _expand(self, env):
        return replace(self, path=self._w(self.path, env))


@dataclass(frozen=True, kw_only=True)
class StopSignal(Instruction):
    """``STOPSIGNAL signal`` (checked after expansion)."""

    name = "STOPSIGNAL"
    signal: str

    def _expand(self, env):
        # BuildKit checks the name after expansion, when the stage is converted
        return replace(self, signal=check_signal(self._w(self.signal, env)))


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    """``MAINTAINER name`` (deprecated): the image config's ``author``."""

    name = "MAINTAINER"
    maintainer: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """``test`` as in the image config: ``("NONE",)``, ``("CMD", ...)`` or ``("CMD-SHELL", text)``.
    Durations are nanoseconds (the image config's unit); 0 / None mean "not set"."""

    name = "HEALTHCHECK"
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    """``expression`` is what goes into the image config's ``OnBuild`` list (heredoc bodies
    appended, as BuildKit does); ``trigger`` is the wrapped instruction's parse node."""

    name = "ONBUILD"
    expression: str
    trigger: Node = field(compare=False)


ALL_TYPES = (From, Arg, Env, Label, Run, Cmd, Entrypoint, Shell, Copy, Add, Expose, Volume, User, Workdir,
             StopSignal, Maintainer, Healthcheck, Onbuild)
