"""Executor steps without a kernel or a registry: a fake runner and an in-memory layer view.

``MemoryLayers`` keeps every layer as a dict (in-root path -> file content, ``None`` for a
directory); a step's root is a fresh directory holding the layers so far, and what the step
changed there becomes the next layer. ``FakeRunner`` records each ``RunSpec`` and runs a
Python callable on the root instead of a command. ``step_context`` builds the frozen
``StepContext`` the stage loop would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.executor.events import CollectingReporter
from mason.executor.layers import LayerRef
from mason.executor.options import BuildOptions
from mason.executor.rootfs import StepFS
from mason.executor.settings import Settings, parse_settings
from mason.executor.stageconfig import StageConfig
from mason.executor.stagestate import StageState
from mason.executor.steps import StepContext
from mason.fsops import SourceTree
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor

Tree = dict[str, "bytes | None"]


def _read_tree(root: Path) -> Tree:
    out: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = Path(dirpath, name).read_bytes()
    return out


def _write_tree(root: Path, tree: Tree) -> None:
    for rel, content in sorted(tree.items()):
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


class MemoryLayers:
    """A ``LayerView`` whose layers are dicts; it writes no tar and mounts nothing."""

    def __init__(self, config: StageConfig, scratch: Path, base: Tree | None = None):
        self.config = config
        self.scratch = scratch
        self.contents: dict[str, Tree] = {}        # diff_id -> the layer's changes
        self._layers: list[LayerRef] = []
        self._before: dict[int, Tree] = {}
        self._count = 0
        if base:
            self._layers.append(self._ref(base))

    def _ref(self, changes: Tree) -> LayerRef:
        doc = json.dumps({k: None if v is None else v.decode("latin-1") for k, v in sorted(changes.items())})
        diff_id = "sha256:" + hashlib.sha256(doc.encode()).hexdigest()
        self.contents[diff_id] = changes
        return LayerRef(diff_id, Descriptor(mt.OCI_LAYER_GZIP, diff_id, len(doc)), lambda: None)

    def tree(self, layers: list[LayerRef] | None = None) -> Tree:
        out: Tree = {}
        for ref in self._layers if layers is None else layers:
            out.update(self.contents[ref.diff_id])
        return out

    @property
    def layers(self) -> list[LayerRef]:
        return self._layers

    @contextlib.contextmanager
    def step(self, lowers: list[LayerRef], *, base_visible: bool = True) -> Iterator[StepFS]:
        self._count += 1
        root = self.scratch / f"step-{self._count}"
        root.mkdir(parents=True)
        before = self.tree(lowers) if base_visible else {}
        _write_tree(root, before)
        fs = StepFS(root)
        yield fs
        self._before[id(fs)] = before

    @contextlib.contextmanager
    def view(self, layers: list[LayerRef], *, only=None) -> Iterator[Path]:
        self._count += 1
        root = self.scratch / f"view-{self._count}"
        root.mkdir(parents=True)
        _write_tree(root, self.tree(layers))
        yield root
        shutil.rmtree(root)

    def commit(self, fs: StepFS, created_by: str, deferred=None, *, empty_layer: bool = True) -> LayerRef | None:
        before, after = self._before.pop(id(fs)), _read_tree(fs.root)
        changes = {k: v for k, v in after.items() if k not in before or before[k] != v}
        if not changes and not empty_layer:
            self.config.add_empty_history(created_by, None)
            return None
        ref = self._ref(changes)
        self._layers.append(ref)
        self.config.add_layer(ref.diff_id, created_by, None)
        return ref

    def add_cached(self, entry, created_by: str) -> LayerRef | None:
        if entry.layer is None:
            self.config.add_empty_history(created_by, None)
            return None
        ref = LayerRef(entry.diff_id, entry.layer, entry.opener, entry.origin)
        self._layers.append(ref)
        self.config.add_layer(entry.diff_id, created_by, None)
        return ref

    def deferred(self):
        return None                 # files are always written: no overlay upper dir to stream from

    def skeleton_lowers(self):
        return self._layers, frozenset()


@dataclass
class FakeRunner:
    """Records every spec; ``effect(root)`` stands in for the command; returns ``code``."""

    name: str = "namespaces"
    effect: Callable[[Path], None] = lambda root: None
    code: int = 0
    output: tuple[str, ...] = ()
    specs: list = field(default_factory=list)

    def run(self, spec, output, *, cancel=None) -> int:
        self.specs.append(spec)
        for line in self.output:
            output("stdout", line)
        self.effect(Path(spec.root))
        return self.code


class MemorySources:
    """``Sources``: a context directory, finished stages by name, no images."""

    def __init__(self, context_dir: Path, stages: dict[str, StageState] | None = None):
        self._context = SourceTree(str(context_dir), None)
        self._stages = stages or {}

    @property
    def context(self) -> SourceTree:
        return self._context

    def stage(self, ref: str) -> StageState | None:
        return self._stages.get(ref)

    def image(self, ref: str):
        raise AssertionError(f"no image {ref} in a unit test")


@dataclass
class Stage:
    """One planned stage: its instructions expanded in order, with the scope each one sees."""

    settings: Settings
    plan_stage: object
    expanded: list        # (instruction as written, expanded, scope before, scope after)


def plan(dockerfile: str, context_dir: Path, **options) -> Stage:
    settings = parse_settings(BuildOptions(context_dir=context_dir, no_push=True, **options), {})
    stages = plan_stages(parse_dockerfile(dockerfile), target_platform="linux/amd64", build_platform="linux/amd64")
    stage = stages.stages[stages.target]
    scope = stages.scope(stage)
    expanded = []
    for ins in stage.instructions:
        done, after = scope.apply(ins)
        expanded.append((ins, done, scope, after))
        scope = after
    return Stage(settings, stage, expanded)


def step_context(stage: Stage, number: int, *, config: StageConfig, layers: MemoryLayers,
                 sources: MemorySources, scratch: Path, runner: FakeRunner | None = None, cache=None,
                 before: bool = False, reporter: CollectingReporter | None = None) -> StepContext:
    """The context of instruction ``number`` (1-based); ``before``: the scope before it (keys)."""
    ins, _, scope_before, scope_after = stage.expanded[number - 1]
    runner = runner or FakeRunner()

    def sub(*parts: str) -> Path:
        path = scratch.joinpath("work", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    return StepContext(settings=stage.settings, stage=stage.plan_stage, step_id=f"1/{number}",
                       location=f"Dockerfile:{ins.location.start_line}",
                       scope=scope_before if before else scope_after, config=config, docker_media=False,
                       layers=layers, sources=sources, runner=lambda: runner, cache=cache,
                       reporter=reporter or CollectingReporter(), cancel=threading.Event(), scratch=sub)
