"""What the stage loop owns while a stage is built, and what a build reports of each step.

``StageState`` is the one mutable value of a stage: its layers so far, its config, the
variables in scope, the running cache key. Only the loop building that stage
(``mason.executor.stagebuilder``) changes it; once the stage is done, other stages read it
(``FROM <stage>``, ``COPY --from``) and nobody writes it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mason.dockerfile.scope import StageScope
from mason.dockerfile.stages import Stage
from mason.executor.layers import LayerRef
from mason.executor.stageconfig import StageConfig


@dataclass
class StepRecord:
    """One step's outcome, for the summary and the metadata file."""

    step_id: str
    instruction: str
    location: str
    cache: str = "none"                # "hit" | "miss" | "none" (cache off or step not cached)
    seconds: float = 0.0
    layer_digest: str | None = None
    layer_size: int | None = None
    cache_key: str | None = None


@dataclass(frozen=True)
class DirectLayer:
    """A layer written from its sources (``mason.executor.directcopy``): its upper dir holds
    everything but ``files``, the in-root paths of the regular files it recorded."""

    ref: LayerRef
    upper: Path
    files: frozenset[str]


@dataclass
class StageState:
    """A stage while (and after) it is built."""

    stage: Stage
    layers: list[LayerRef]
    config: StageConfig
    docker_media: bool
    scope: StageScope | None = None
    cache_key: str | None = None       # the running cache key; after the stage, its final key
    built_locally: bool = False        # some step of it (or of its FROM-stage) ran on this machine
    step: int = 0                      # the number of the step running (1-based), 0 before the first
    direct_layers: list[DirectLayer] = field(default_factory=list)
