"""Which platforms a build's RUN steps execute for: what must be runnable on this host.

A stage's RUN runs the stage's own binaries, for the stage's platform: ``FROM --platform``
when given, else the platform of the stage it builds on, else the build's target. A stage
with no RUN executes nothing and needs no emulator (COPY-only stages for another platform
build anywhere).
"""

from __future__ import annotations

from mason.dockerfile.stages import StagePlan
from mason.errors import BuildError, UsageError
from mason.oci.platform import Platform, parse_platform


def run_platforms(plan: StagePlan, target: Platform, *, skip_unused: bool = True) -> list[Platform]:
    """The distinct platforms of the stages built that have a RUN instruction, in file order
    (``skip_unused``: only the stages the target needs, else every stage up to the target)."""
    built = {s.index for s in plan.needed()} if skip_unused else {s.index for s in plan.stages
                                                                  if s.index <= plan.target}
    by_index: dict[int, Platform] = {}
    wanted: list[Platform] = []
    for stage in plan.stages:
        if stage.platform:
            try:
                platform = parse_platform(stage.platform)
            except UsageError as exc:
                raise BuildError(f"FROM --platform={stage.platform}: {exc}") from None
        elif stage.base_stage is not None and stage.base_stage in by_index:
            platform = by_index[stage.base_stage]
        else:
            platform = target
        by_index[stage.index] = platform
        if stage.index in built and any(i.name == "RUN" for i in stage.instructions) and platform not in wanted:
            wanted.append(platform)
    return wanted
