"""Why did the cache miss? The ``--cache-report FILE`` JSON, and the record it compares with.

For every step the report lists its key, its parent key, the digest of each input (each
top-level field of its key record: ``argv``, ``env``, ``sources``, ``writer``…), hit or
miss, and for a miss the inputs that differ from the previous build of the same Dockerfile
and destination. That previous build's record is a document in the cache repository,
tagged ``record_tag(...)``; every build with cache pushes on replaces it.

Input digests never contain values that were not already in the Dockerfile or context
(a secret never is an input), so the report is safe to publish as a CI artifact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mason.cache.keys import canonical

REPORT_VERSION = 1


@dataclass
class StepCacheInfo:
    """One step's entry in the --cache-report and in the build's record."""

    step_id: str
    stage: str
    instruction: str
    location: str
    cache: str                       # "hit" | "miss" | "none"
    key: str | None = None
    parent: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    reason: str = ""                 # for a miss or "none": why
    differs: list[str] = field(default_factory=list)


def record_tag(destination: str | None, dockerfile: str, target: str | None) -> str:
    """The tag of the previous-build record: one per (destination, Dockerfile, target)."""
    digest = hashlib.sha256(canonical({"destination": destination, "dockerfile": dockerfile,
                                       "target": target})).hexdigest()
    return "mason-record-" + digest[:48]


def record_document(steps: list[StepCacheInfo]) -> dict:
    return {"version": REPORT_VERSION,
            "steps": [{"step_id": s.step_id, "instruction": s.instruction, "key": s.key, "parent": s.parent,
                       "inputs": s.inputs} for s in steps if s.key]}


def explain(steps: list[StepCacheInfo], previous: dict | None) -> None:
    """Fill ``differs``/``reason`` of every miss by comparing with ``previous``'s record."""
    before = {}
    if previous and previous.get("version") == REPORT_VERSION:
        before = {s.get("step_id"): s for s in previous.get("steps") or [] if isinstance(s, dict)}
    for step in steps:
        if step.cache != "miss":
            continue
        old = before.get(step.step_id)
        if previous is None:
            step.reason = "no record of a previous build of this Dockerfile and destination"
        elif old is None:
            step.reason = "the previous build had no such step"
        elif old.get("key") == step.key:
            step.reason = "same key as the previous build, but its entry is missing or older than --cache-ttl"
        else:
            old_inputs = old.get("inputs") or {}
            step.differs = sorted(name for name in set(step.inputs) | set(old_inputs)
                                  if step.inputs.get(name) != old_inputs.get(name))
            if old.get("parent") != step.parent:
                step.differs.insert(0, "parent")
            parts = ", ".join(step.differs) or "nothing recorded"
            step.reason = f"differs from the previous build in: {parts}"
            if step.differs == ["parent"]:
                step.reason += " (an earlier step or the base image changed)"


def write_report(path: Path | str, steps: list[StepCacheInfo], *, cache_repo: str, previous_found: bool) -> None:
    doc = {"version": REPORT_VERSION, "cache_repo": cache_repo, "previous_build_found": previous_found,
           "hits": sum(1 for s in steps if s.cache == "hit"),
           "misses": sum(1 for s in steps if s.cache == "miss"),
           "steps": [asdict(s) for s in steps]}
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
