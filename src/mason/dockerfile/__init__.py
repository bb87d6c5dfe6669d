"""mason's Dockerfile front end: text in, typed stages out (pure: no filesystem, network, subprocess).

It reads every Dockerfile BuildKit reads, the way BuildKit reads it, and refuses the rest with
a ``mason.errors.DockerfileError`` naming the file and line.

Public API
==========

Parsing
    ``parse_dockerfile(text, *, file="Dockerfile") -> Dockerfile``
        ``Dockerfile.directives`` (name -> value pairs: syntax, escape, check), ``.escape``,
        ``.instructions`` (typed records, file order), ``.warnings``, ``.tree`` (the raw
        ``ParseTree`` of ``Node``; ``tree.to_json()`` is ``mason dockerfile parse --json``).
    ``parse(text, *, file=...) -> ParseTree``      the untyped parse tree only.
    ``check_dockerfile(text, *, file=..., build_args=None, target=None) -> list[Diagnostic]``

Instruction records (``mason.dockerfile.instructions``), frozen dataclasses, each with
``location`` (``Location(file, start_line, end_line)``), ``original`` and ``escape``:
    ``From(base, stage_name, platform)``, ``Arg(args=(ArgDecl(name, default),...))``,
    ``Env(pairs=(Pair(key, value),...), legacy)``, ``Label`` (same), ``Run(command,
    prepend_shell, heredocs, mounts=(Mount,...), network, security)``, ``Cmd``/``Entrypoint
    (command, prepend_shell)``, ``Shell(shell)``, ``Copy(sources, dest, inline, from_, chown,
    chmod, link, parents, excludes)``, ``Add(sources, dest, inline, chown, chmod, link, checksum,
    keep_git_dir, unpack, excludes)``, ``Expose(ports)``, ``Volume(paths)``, ``User(user)``,
    ``Workdir(path)``, ``StopSignal(signal)``, ``Maintainer(maintainer)``, ``Healthcheck(test,
    interval, timeout, start_period, start_interval, retries)`` (ns), ``Onbuild(expression,
    trigger)``. ``command`` is the exec array, or ``(shell_text,)`` when ``prepend_shell``.
    Every BuildKit-stable flag is parsed into these fields; the executor must refuse (with
    ``NotSupportedError``) any field value it does not implement, never ignore it.
    ``instruction.expand(env) -> Instruction``: a copy with BuildKit's expansion applied
    (ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG, RUN --mount
    values; COPY/ADD heredoc sources with ``expand=True``). RUN/CMD/ENTRYPOINT/SHELL/
    HEALTHCHECK/MAINTAINER are returned as is; ONBUILD is deferred to the child build.

Stages
    ``plan_stages(dockerfile, *, build_args={}, target=None, target_platform="linux/amd64",
    build_platform="linux/amd64") -> StagePlan``
        ``plan.stages`` (all ``Stage(index, name, from_, base, platform, base_stage,
        instructions, deps, external_sources)``, base/platform expanded with the global
        ARGs + build-args + platform ARGs), ``plan.order`` (needed stage indexes, deps first,
        target last), ``plan.needed()``, ``plan.target``, ``plan.global_args``,
        ``plan.warnings`` (e.g. unused build-args), ``plan.scope(stage, base_env)``.

Variables while building
    ``StageScope`` (immutable): ``scope.apply(instruction) -> (expanded, next_scope)``,
    ``scope.expansion_env()`` (ARGs overlaid by ENV), ``scope.run_env()`` (what RUN sees,
    proxy build-args included), ``scope.run_args()`` (ARG values RUN depends on: cache key).

Words
    ``expand_word(word, env, escape="\\\\") -> str``, ``expand_words(word, env, escape) -> list[str]``,
    ``expand_heredoc(content, env) -> str`` (COPY/ADD heredoc bodies).

Images
    (``.dockerignore`` is the context's: ``mason.context.ignore``.)
    ``onbuild_instructions(triggers, *, image) -> list[Instruction]`` (run them first in a
    stage whose base image has ``OnBuild`` triggers).

How the executor walks a stage
==============================

::

    df = parse_dockerfile(text, file="Dockerfile")
    plan = plan_stages(df, build_args=args, target=target,
                       target_platform="linux/amd64", build_platform="linux/amd64")
    for w in plan.warnings: log.warning(str(w))
    for stage in plan.needed():
        if stage.base_stage is not None:
            image = results[stage.base_stage]            # built earlier: plan.order guarantees it
        else:
            image = pull(stage.base, platform=stage.platform)   # "scratch" means empty
        scope = plan.scope(stage, base_env=image.config.Env)
        steps = onbuild_instructions(image.config.OnBuild or [], image=stage.base) + list(stage.instructions)
        for instruction in steps:
            expanded, scope = scope.apply(instruction)   # ENV/ARG update the scope
            if isinstance(expanded, Run):
                run(expanded, env=scope.run_env(), cache_args=scope.run_args())
            elif isinstance(expanded, Copy):
                ...  # expanded.from_ is a stage name/index (plan.stage(ref)) or an image
            ...
        results[stage.index] = image
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mason.dockerfile.document import Dockerfile, parse_dockerfile
from mason.dockerfile.expand import expand_heredoc, expand_word, expand_words
from mason.dockerfile.instructions import (Add, Arg, ArgDecl, Cmd, Copy, Entrypoint, Env, Expose, From,
                                           Healthcheck, InlineSource, Instruction, Label, Maintainer, Onbuild,
                                           Pair, Run, Shell, StopSignal, User, Volume, Workdir)
from mason.dockerfile.onbuild import onbuild_instructions
from mason.dockerfile.parser import parse
from mason.dockerfile.scope import PLATFORM_ARG_NAMES, PROXY_ARGS, StageScope, platform_args
from mason.dockerfile.stages import Stage, StagePlan, plan_stages
from mason.dockerfile.syntax import Diagnostic, Heredoc, KeyValue, Location, Node, ParseTree
from mason.lazyexports import lazy_exports

# Imported at first use (PEP 562): a build loads neither the checker (``mason dockerfile
# check``) nor the --mount parser (and csv) unless a RUN has a --mount.
_LAZY = {"check_dockerfile": "mason.dockerfile.check", "Mount": "mason.dockerfile.mounts"}

if TYPE_CHECKING:
    from mason.dockerfile.check import check_dockerfile
    from mason.dockerfile.mounts import Mount


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)

__all__ = [
    "Add", "Arg", "ArgDecl", "Cmd", "Copy", "Diagnostic", "Dockerfile", "Entrypoint", "Env",
    "Expose", "From", "Healthcheck", "Heredoc", "InlineSource", "Instruction", "KeyValue", "Label", "Location",
    "Maintainer", "Mount", "Node", "Onbuild", "PLATFORM_ARG_NAMES", "PROXY_ARGS", "Pair", "ParseTree", "Run",
    "Shell", "Stage", "StagePlan", "StageScope", "StopSignal", "User", "Volume", "Workdir", "check_dockerfile",
    "expand_heredoc", "expand_word", "expand_words", "onbuild_instructions", "parse",
    "parse_dockerfile", "plan_stages", "platform_args",
]
