"""One ``Step`` per instruction kind, and the table the stage loop dispatches through.

Each step owns its cache-key record, its history text, how it runs (``execute``) and how a
cache hit replays it (``replay``); ``mason.executor.stagebuilder`` looks a step up once per
instruction, by the instruction's exact type. A new instruction kind is a new module here
and a row in ``STEPS``.
"""

from __future__ import annotations

from mason.dockerfile import instructions as di
from mason.errors import NotSupportedError
from mason.executor.steps.context import LayerView, Runner, Sources, Step, StepContext
from mason.executor.steps.copy import CopyStep
from mason.executor.steps.metadata import EFFECTS, MetadataStep
from mason.executor.steps.run import RunStep
from mason.executor.steps.workdir import WorkdirStep

STEPS: dict[type[di.Instruction], Step] = {
    di.Run: RunStep(),
    di.Copy: CopyStep("COPY"),
    di.Add: CopyStep("ADD"),
    di.Workdir: WorkdirStep(),
    **{kind: MetadataStep(effect) for kind, effect in EFFECTS.items()},
}


def step_for(ins: di.Instruction) -> Step:
    """The step of instruction ``ins`` (expanded or not: expansion keeps the type)."""
    step = STEPS.get(type(ins))
    if step is None:
        raise NotSupportedError(f"instruction {ins.name} is not supported")
    return step


__all__ = ["STEPS", "LayerView", "Runner", "Sources", "Step", "StepContext", "step_for"]
