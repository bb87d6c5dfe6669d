"""Stages and the stage graph: which stages a target needs, in which order, from which bases.

BuildKit's rules: stage names are case-insensitive and unique; ``FROM <name>`` refers to an
*earlier* stage (otherwise it is an image); ``COPY --from`` and ``RUN --mount from=`` name any
stage by name or index (an unknown name is an image); dependency cycles are errors; the
target (default: the last stage) and what it needs are built, every other stage is pruned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mason.dockerfile.document import Dockerfile
from mason.dockerfile.expand import expand_word
from mason.dockerfile.instructions import Arg, Copy, From, Instruction, Onbuild, Run
from mason.dockerfile.onbuild import onbuild_instructions
from mason.dockerfile.scope import (PLATFORM_ARG_NAMES, PROXY_ARGS, SANDBOX_HOSTNAME_ARG, StageScope,
                                    platform_args)
from mason.dockerfile.suggest import with_suggestion
from mason.dockerfile.syntax import Diagnostic
from mason.errors import DockerfileError


@dataclass(frozen=True)
class Stage:
    """One ``FROM`` and the instructions after it.

    ``base`` is the FROM image expanded with the global ARGs (or "scratch"); ``base_stage``
    the index of the earlier stage it builds on, if any; ``platform`` the expanded
    ``--platform`` (None when absent); ``deps`` the indexes of stages it needs.
    ``external_sources`` are the images named by ``COPY --from``/``--mount from=``.
    """

    index: int
    name: str | None
    from_: From
    base: str
    platform: str | None
    base_stage: int | None
    instructions: tuple[Instruction, ...]
    deps: tuple[int, ...] = ()
    external_sources: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.name if self.name is not None else str(self.index)


@dataclass(frozen=True)
class StagePlan:
    """What to build for one target: ``order`` lists the needed stage indexes, dependencies
    first, the target last. ``global_args`` are the resolved ARGs before the first FROM."""

    dockerfile: Dockerfile = field(repr=False)
    stages: tuple[Stage, ...]
    order: tuple[int, ...]
    target: int
    build_args: tuple[tuple[str, str], ...] = ()
    global_args: tuple[tuple[str, str], ...] = ()
    platform_args: tuple[tuple[str, str], ...] = ()
    warnings: tuple[Diagnostic, ...] = ()

    def needed(self) -> tuple[Stage, ...]:
        return tuple(self.stages[i] for i in self.order)

    def stage(self, ref: str | int) -> Stage:
        found = _lookup(self.stages, str(ref))
        if found is None:
            raise DockerfileError(f"no stage named {ref!r}", file=self.dockerfile.file)
        return self.stages[found]

    def scope(self, stage: Stage, base_env=()) -> StageScope:
        """The scope right after ``stage``'s FROM, given its base image's ENV."""
        return StageScope.start(base_env, build_args=dict(self.build_args), global_args=dict(self.global_args),
                                platform=dict(self.platform_args))


def _lookup(stages, ref: str) -> int | None:
    if ref.isdigit():
        i = int(ref)
        return i if i < len(stages) else None
    low = ref.lower()
    for s in stages:
        if s.name == low:
            return s.index
    return None


def _fail(msg: str, instruction: Instruction, hint: str | None = None) -> DockerfileError:
    loc = instruction.location
    return DockerfileError(msg, file=loc.file, line=loc.start_line, end_line=loc.end_line, hint=hint)


def plan_stages(dockerfile: Dockerfile, *, build_args: Mapping[str, str] = {}, target: str | None = None,
                target_platform: str = "linux/amd64", build_platform: str = "linux/amd64") -> StagePlan:
    """Resolve global ARGs, expand each FROM, build the stage graph and prune it to ``target``."""
    try:
        plat = platform_args(target_platform, build_platform)
    except ValueError as exc:
        raise DockerfileError(str(exc), hint="use os/arch[/variant], e.g. linux/arm64/v8") from None
    # BuildKit (dockerfile frontend 1.7+): the --target as given, "default" without one
    plat["TARGETSTAGE"] = target or "default"
    meta: dict[str, str] = dict(plat)
    global_declared: set[str] = set()
    stage_heads: list[tuple[From, list[Instruction]]] = []
    for ins in dockerfile.instructions:
        if isinstance(ins, From):
            stage_heads.append((ins, []))
        elif stage_heads:
            stage_heads[-1][1].append(ins)
        elif isinstance(ins, Arg):
            for decl in ins.expand(meta, given=set(build_args)).args:
                global_declared.add(decl.name)
                value = build_args.get(decl.name, decl.default)
                if value is not None:
                    meta[decl.name] = value
                else:
                    meta.pop(decl.name, None)
    stages: list[Stage] = []
    names: dict[str, int] = {}
    for index, (frm, body) in enumerate(stage_heads):
        expanded = frm.expand(meta)
        if not expanded.base:
            raise _fail(f"base name ({frm.base}) should not be blank", frm)
        if expanded.stage_name is not None and expanded.stage_name in names:
            raise _fail(f"duplicate stage name {expanded.stage_name!r}", frm,
                        f"the first stage named {expanded.stage_name!r} is stage {names[expanded.stage_name]}")
        base_stage = names.get(expanded.base.lower())
        if frm.platform is not None and not expanded.platform:
            raise _fail(f"FROM --platform={frm.platform} expands to an empty platform", frm)
        stages.append(Stage(index, expanded.stage_name, frm, expanded.base, expanded.platform, base_stage,
                            tuple(body)))
        if expanded.stage_name is not None:
            names[expanded.stage_name] = index
    stages = [_with_deps(s, stages) for s in stages]
    _check_cycles(stages)
    if target is None:
        target_index = len(stages) - 1
    else:
        found = _lookup(stages, target) if not target.isdigit() else None
        if found is None:
            known = ", ".join(s.name for s in stages if s.name) or "none"
            names = [s.name for s in stages if s.name]
            raise DockerfileError(with_suggestion(f"target stage {target!r} could not be found", target, names,
                                                  case_sensitive=False),
                                  file=dockerfile.file, hint=f"named stages: {known}")
        target_index = found
    order = _build_order(stages, target_index)
    consumed = set(global_declared)
    for i in order:
        for ins in stages[i].instructions:
            if isinstance(ins, Arg):
                consumed.update(d.name for d in ins.args)
    unused = sorted(k for k in build_args if k not in consumed and k not in PROXY_ARGS
                    and k not in PLATFORM_ARG_NAMES and k not in (SANDBOX_HOSTNAME_ARG, "SOURCE_DATE_EPOCH"))
    warnings = ()
    if unused:
        warnings = (Diagnostic(f"one or more build-args [{' '.join(unused)}] were not consumed",
                               dockerfile.file, 1, rule="UnusedBuildArg"),)
    from mason.dockerfile.secretargs import secret_warnings

    warnings += secret_warnings(dockerfile.instructions, build_args, dockerfile.file)
    return StagePlan(dockerfile=dockerfile, stages=tuple(stages), order=order, target=target_index,
                     build_args=tuple(build_args.items()),
                     global_args=tuple((k, v) for k, v in meta.items() if k in global_declared),
                     platform_args=tuple(plat.items()), warnings=warnings)


def _with_deps(stage: Stage, stages: list[Stage]) -> Stage:
    from dataclasses import replace

    deps: list[int] = []
    external: list[str] = []
    instructions = list(stage.instructions)
    if stage.base_stage is not None:
        deps.append(stage.base_stage)
        # the parent's ONBUILD triggers run in this stage: what they read is needed here
        parent = stages[stage.base_stage]
        triggers = [i.expression for i in parent.instructions if isinstance(i, Onbuild)]
        if triggers:
            instructions = onbuild_instructions(triggers, image=f"stage {parent.name or parent.index}",
                                                escape=parent.from_.escape) + instructions
    for ins in instructions:
        refs: list[str] = []
        if isinstance(ins, Copy) and ins.from_ is not None:
            refs.append(ins.from_)
        elif isinstance(ins, Run):
            refs.extend(m.from_ for m in ins.mounts if m.from_ and m.type in ("bind", "cache"))
        for ref in refs:
            found = _lookup(stages, ref)
            if found is None and "$" in ref:
                continue            # refused with its own error when the trigger runs
            if found is None and ref.isdigit():
                raise _fail(f"invalid stage index {ref}", ins, f"this Dockerfile has {len(stages)} stages (0-based)")
            if found is None:
                external.append(ref)
            elif found not in deps:
                deps.append(found)
    return replace(stage, deps=tuple(deps), external_sources=tuple(dict.fromkeys(external)))


def _check_cycles(stages: list[Stage]) -> None:
    state = [0] * len(stages)  # 0 new, 1 visiting, 2 done

    def visit(i: int) -> None:
        state[i] = 1
        for d in stages[i].deps:
            if state[d] == 1:
                raise _fail(f"circular dependency detected on stage: {stages[d].id}", stages[i].from_)
            if state[d] == 0:
                visit(d)
        state[i] = 2

    for i in range(len(stages)):
        if state[i] == 0:
            visit(i)


def _build_order(stages: list[Stage], target: int) -> tuple[int, ...]:
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        seen.add(i)
        for d in sorted(stages[i].deps):
            if d not in seen:
                visit(d)
        order.append(i)

    visit(target)
    return tuple(order)


def expand_from(base: str, meta: Mapping[str, str], escape: str = "\\") -> str:
    """Expand a FROM image with the global ARG scope (exposed for tools and tests)."""
    return expand_word(base, meta, escape)
