"""Variable scoping while a stage is built: ARG declarations, build-args, ENV, platform ARGs.

``StageScope`` is a value: every change returns a new scope, so the executor can keep the
scope of each step (for cache keys) and two builds never share anything.

Rules (BuildKit's):
* ARGs declared before the first FROM are usable in FROM lines only; inside a stage an
  ``ARG NAME`` (no default) re-declares it and inherits the global value;
* an ARG's value is the ``--build-arg`` if given, else its own default, else the global one;
* ENV wins over an ARG of the same name in expansions and in the RUN environment;
* TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT/BUILDPLATFORM/BUILDOS/BUILDARCH/BUILDVARIANT
  and TARGETSTAGE (the --target, or "default") are automatic in the global scope and need
  ``ARG NAME`` inside a stage;
* the proxy ARGs (HTTP_PROXY, HTTPS_PROXY, FTP_PROXY, NO_PROXY, ALL_PROXY, either case) reach
  RUN from ``--build-arg`` without a declaration, in both spellings, but are kept out of cache
  keys and history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mason.dockerfile.instructions import Arg, Env, Instruction
from mason.dockerfile.pairs import Overlay, Pairs
from mason.dockerfile.values import split_platform

PROXY_ARGS = frozenset(n for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
                       for n in (base, base.lower()))
# A build argument (no ARG needed) naming the RUN sandbox's hostname, as BuildKit's frontend reads it.
SANDBOX_HOSTNAME_ARG = "BUILDKIT_SANDBOX_HOSTNAME"
PLATFORM_ARG_NAMES = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                      "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT", "TARGETSTAGE")

def platform_args(target_platform: str, build_platform: str) -> dict[str, str]:
    """The automatic platform ARGs for ``os/arch[/variant]`` strings."""
    out: dict[str, str] = {}
    for prefix, value in (("TARGET", target_platform), ("BUILD", build_platform)):
        os_, arch, variant = split_platform(value)
        if arch == "arm64" and variant in ("v8", "8"):
            # containerd's Normalize drops arm64's default variant: BuildKit gives linux/arm64 and
            # an empty TARGETVARIANT for --platform linux/arm64 and linux/arm64/v8 alike
            variant = ""
        out[prefix + "PLATFORM"] = f"{os_}/{arch}" + (f"/{variant}" if variant else "")
        out[prefix + "OS"] = os_
        out[prefix + "ARCH"] = arch
        out[prefix + "VARIANT"] = variant
    return out


@dataclass(frozen=True)
class StageScope:
    """The variables visible at one point of a stage.

    ``env`` is the image ENV in order (starting from the base image's), ``args`` the ARGs
    declared so far in this stage that have a value; ``declared`` every ARG name declared
    in this stage (with or without value) - the names a ``--build-arg`` may set;
    ``declarations`` those names once per declaration, newest first, as a chain of
    ``(name, older)`` pairs ending in ``None`` (RUN's history reads it in order). ``env``,
    ``args`` and ``names`` are ``Pairs`` and ``declarations`` a chain so that each step's scope
    shares them with the one before: a tuple copied per ARG made memory quadratic in the
    number of ARG lines, every step's scope being kept.
    """

    build_args: tuple[tuple[str, str], ...] = ()
    global_args: tuple[tuple[str, str], ...] = ()
    platform: tuple[tuple[str, str], ...] = ()
    env: Pairs = Pairs()
    args: Pairs = Pairs()
    names: Pairs = Pairs()
    declarations: tuple[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("env", "args", "names"):
            value = getattr(self, name)
            if not isinstance(value, Pairs):
                object.__setattr__(self, name, Pairs(value))

    @property
    def declared(self) -> tuple[str, ...]:
        return tuple(self.names.keys())

    @classmethod
    def start(cls, base_env: Mapping[str, str] | Iterable[str] = (), *, build_args: Mapping[str, str] = {},
              global_args: Mapping[str, str] = {}, platform: Mapping[str, str] = {}) -> StageScope:
        """A stage's scope right after FROM. ``base_env`` is the base image's ENV (a mapping
        or the config's ``["K=V", ...]`` list)."""
        if isinstance(base_env, Mapping):
            env = tuple(base_env.items())
        else:
            env = tuple((e.partition("=")[0], e.partition("=")[2]) for e in base_env)
        return cls(build_args=tuple(build_args.items()), global_args=tuple(global_args.items()),
                   platform=tuple(platform.items()), env=Pairs(env))

    # -- reading ------------------------------------------------------------------------
    def expansion_env(self) -> Mapping[str, str]:
        """The mapping used to expand an instruction's words: ARGs overlaid by ENV (a view:
        nothing is copied per instruction)."""
        return Overlay(self.env, self.args)

    def run_env(self) -> dict[str, str]:
        """The environment a RUN sees: ENV, in-scope ARGs not shadowed by ENV, and the
        proxy build-args (which need no declaration)."""
        out = dict(self.env)
        for k, v in self.args:
            out.setdefault(k, v)
        for k, v in self.build_args:
            if k in PROXY_ARGS and v:
                # BuildKit's exec op sets both spellings from either one (proxyEnvList)
                out.setdefault(k.upper(), v)
                out.setdefault(k.lower(), v)
        return out

    def run_args(self) -> dict[str, str]:
        """The ARG values a RUN depends on (for its cache key): in-scope, not shadowed by
        ENV, proxies excluded (BuildKit keeps them out of the cache key)."""
        return {k: v for k, v in self.args if k not in self.env}

    def history_args(self) -> list[str]:
        """``NAME=value`` for each ARG declaration of the stage, in order (a name declared
        twice comes twice): BuildKit's RUN history prefix. The value is the one the RUN's
        environment has (ENV, the base image's included, wins), else the ARG's, else empty."""
        values = self.expansion_env()
        names: list[str] = []
        link = self.declarations
        while link is not None:
            names.append(link[0])
            link = link[1]
        return [f"{name}={values.get(name, '')}" for name in reversed(names)]

    def sandbox_hostname(self) -> str | None:
        """``--build-arg BUILDKIT_SANDBOX_HOSTNAME=…`` (empty: not set), else None."""
        return dict(self.build_args).get(SANDBOX_HOSTNAME_ARG) or None

    # -- changing -----------------------------------------------------------------------
    def declare(self, name: str, default: str | None) -> StageScope:
        """``ARG name[=default]`` (the default already expanded)."""
        build = dict(self.build_args)
        if name in build:
            value: str | None = build[name]
        elif default is not None:
            value = default
        else:
            value = dict(self.platform).get(name, dict(self.global_args).get(name))
        names = self.names if name in self.names else self.names.set(name, "")
        declarations = (name, self.declarations)
        if value is None:
            return replace(self, names=names, declarations=declarations, args=self.args.remove(name))
        return replace(self, names=names, declarations=declarations, args=self.args.set(name, value))

    def set_env(self, key: str, value: str) -> StageScope:
        return replace(self, env=self.env.set(key, value))

    def expand(self, instruction: Instruction) -> Instruction:
        """The instruction with its words expanded in this scope."""
        return instruction.expand(self.expansion_env())

    def apply(self, instruction: Instruction) -> tuple[Instruction, StageScope]:
        """Expand ``instruction`` and return it with the scope that follows it.

        All pairs of one ENV/ARG instruction are expanded against the scope *before* it
        (``ENV a=1 b=$a`` gives b the old a), as in BuildKit.
        """
        if isinstance(instruction, Arg):
            expanded = instruction.expand(self.expansion_env(), given={k for k, _ in self.build_args})
        else:
            expanded = self.expand(instruction)
        scope = self
        if isinstance(expanded, Arg):
            for decl in expanded.args:
                scope = scope.declare(decl.name, decl.default)
        elif type(expanded) is Env:
            for pair in expanded.pairs:
                scope = scope.set_env(pair.key, pair.value)
        return expanded, scope
