"""Where a step's filesystem lives and how its changes are found: overlay or walk.

Both strategies give a step a writable root that looks like the stage so far, and after the
step a ``ChangeSet`` plus a directory holding the step's layer in overlay lower-dir format.

* ``OverlayStrategy`` (mount rights): the root is an overlayfs over the stage's layer
  directories; the fresh upper dir *is* the diff. Cost: what the step wrote.
* ``WalkStrategy`` (no mounts): each stage has a plain root directory with its layers applied;
  a stat snapshot before and after finds the changes, hashing only files whose metadata
  changed. Cost: one ``lstat`` per file, never a re-read of the tree.

One strategy object serves every stage of a build, and independent stages run on their own
threads: scratch names come from a locked counter, and a walk root is brought up to date
(or copied for ``FROM <stage>``) under that root's own lock, so two stages reading a finished
stage (``COPY --from``) apply its pending layers once, and never while the other copies it.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from mason.executor.layers import LayerRef, apply_onto, base_errors, materialize
from mason.executor.layershapes import LayerShapes
from mason.executor.layerstore import LayerStore
from mason.errors import BuildError
# at module level: imported lazily from stage threads it raced (a partially initialised module)
from mason.tarfs.extract import SAFE_DEVICES, ExtractOptions, apply_skeleton, extract_layer

if TYPE_CHECKING:   # named only: the snapshot that makes one is imported by whoever takes it
    from mason.snapshot.changeset import ChangeSet


@dataclass
class StepFS:
    """What a step works on: ``root`` to write into; after the step, ``changes``."""

    root: Path
    changes: ChangeSet | None = None
    layer_dir: Path | None = None   # overlay: the step's layer as an overlay lower dir
    produced_in: Path | None = None  # walk: the stage root that already holds the change


class OverlayStrategy:
    name = "overlay"

    def __init__(self, store: LayerStore, scratch: Path):
        self.store = store
        self.scratch = scratch
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def _state_dir(self, label: str) -> Path:
        with self._lock:
            number = next(self._numbers)
        return self.scratch / f"{number:04d}-{label}"

    def has_root(self, layers: list[LayerRef]) -> bool:
        return True

    @contextlib.contextmanager
    def step(self, layers: list[LayerRef], *, base_visible: bool = True) -> Iterator[StepFS]:
        """A writable root over ``layers``; ``base_visible=False`` starts from empty (COPY --link)."""
        from mason.snapshot.overlay import OverlayRoot  # each strategy loads only its own snapshotter
        from mason.snapshot.upperdiff import diff_upper

        lowers = list(reversed(materialize(layers, self.store))) if base_visible else []
        overlay = OverlayRoot(lowers, self._state_dir("step"))
        with overlay:
            fs = StepFS(Path(overlay.merged))
            yield fs
        fs.changes = diff_upper(overlay.upper, lowers)
        fs.layer_dir = Path(overlay.upper)

    @contextlib.contextmanager
    def view(self, layers: list[LayerRef], *, only: tuple[str, ...] | None = None) -> Iterator[Path]:
        """A root to read from (COPY --from, bind mounts); writes are discarded. ``only``: the
        in-root paths the reader needs (a hint host-root uses; every path is there)."""
        from mason.snapshot.overlay import OverlayRoot  # each strategy loads only its own snapshotter

        lowers = list(reversed(materialize(layers, self.store)))
        state = self._state_dir("view")
        with OverlayRoot(lowers, state) as overlay:
            yield Path(overlay.merged)
        shutil.rmtree(state, ignore_errors=True)


class SkeletonLayers(list):
    """A stage's layers, to be stepped on in the stage's skeleton root (``WalkStrategy.skeleton``)
    rather than its full root; ``of`` is the stage's own list (the roots' identity)."""

    def __init__(self, of: list[LayerRef]):
        super().__init__(of)
        self.of = of


class WalkStrategy:
    """No mounts: one plain root directory per stage, layers applied in order.

    A stage's layer list is identified by object identity; ``applied`` counts how many of its
    layers the root reflects. A layer a step produced in a root is marked with
    ``produced_in`` and never applied to that root again.

    A stage whose remaining steps are COPYs that need no file of the stage (its tail, see
    ``mason.executor.directcopy``) gets a *skeleton root* instead, as long as it has no full
    root: its layers' directories, links and whiteouts applied, regular files left out and
    listed as hidden. The COPY records its files instead of writing them and stops if it
    reaches a hidden one (then it runs again on the full root). For a final stage
    ``FROM debian`` + ``COPY --from`` this replaces extracting the whole base into the
    stage's root (its file contents are never read) by creating its directories and links.
    """

    name = "walk"

    def __init__(self, scratch: Path, *, limits=None, shapes: LayerShapes | None = None):
        self.scratch = scratch
        self.limits = limits      # ExtractLimits of the build (None: tarfs's defaults)
        # headers of the layers extracted so far: skeletons of them need no blob
        self.shapes = shapes if shapes is not None else LayerShapes()
        self._roots: dict[int, tuple[Path, int]] = {}
        self._skeletons: dict[int, tuple[Path, int, frozenset[str]]] = {}  # + the hidden files
        self._root_locks: dict[int, threading.Lock] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()        # guards the two dicts and the counter

    def _name(self, label: str) -> Path:
        with self._lock:
            number = next(self._numbers)
        return self.scratch / f"{label}-{number:04d}"

    def _new_root(self, label: str) -> Path:
        root = self._name(label)
        root.mkdir(parents=True)
        return root

    def _root_lock(self, layers: list[LayerRef]) -> threading.Lock:
        with self._lock:
            return self._root_locks.setdefault(id(layers), threading.Lock())

    def _root_for(self, layers: list[LayerRef]) -> Path:

        with self._root_lock(layers):
            with self._lock:
                root, applied = self._roots.get(id(layers), (None, 0))
            if root is None:
                root = self._new_root("root")
            for ref in layers[applied:]:
                if ref.produced_in == root:
                    continue
                apply_onto(ref, root, shapes=self.shapes, limits=self.limits)
            with self._lock:
                self._roots[id(layers)] = (root, len(layers))
            return root

    def adopt(self, child: list[LayerRef], parent: list[LayerRef]) -> None:
        """``FROM <stage>``: the child starts from a copy of the parent's root."""
        with self._root_lock(parent):      # not while another stage applies layers to it
            with self._lock:
                found = self._roots.get(id(parent))
            if found is None:
                return
            src, applied = found
            dst = self._name("root")
            # cp -a keeps hardlinks, xattrs, devices and times, which shutil.copytree does not.
            proc = subprocess.run(["cp", "-a", "--", str(src), str(dst)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise BuildError(f"cannot copy stage root: {proc.stderr.strip()}")
        with self._lock:
            self._roots[id(child)] = (dst, applied)

    def has_root(self, layers: list[LayerRef]) -> bool:
        """Whether the stage has a full root (a step walks that, not a skeleton)."""
        with self._lock:
            return id(layers) in self._roots

    def skeleton(self, layers: list[LayerRef]) -> frozenset[str] | None:
        """Bring the stage's skeleton root up to date; the in-root paths of the files it
        leaves out, or None when the stage has a full root (a step should walk that)."""
        with self._root_lock(layers):
            with self._lock:
                if id(layers) in self._roots:
                    return None
                root, applied, hidden = self._skeletons.get(id(layers)) or (None, 0, frozenset())
            if root is None:
                root = self._new_root("skeleton")
            options = ExtractOptions(mode="apply", skeleton=True, allowed_devices=SAFE_DEVICES,
                                     **({"limits": self.limits} if self.limits else {}))
            # A step's own layer too: it left its files out of this root (they are in its blob).
            for ref in layers[applied:]:
                hidden |= self._skeleton_of(ref, root, options)
            with self._lock:
                self._skeletons[id(layers)] = (root, len(layers), hidden)
            return hidden

    def _skeleton_of(self, ref: LayerRef, root: Path, options: ExtractOptions) -> frozenset[str]:
        """Apply one layer's skeleton: from the headers of its extraction earlier in this build
        (``LayerShapes``) where there was one, else from its blob (keeping its headers)."""
        members = self.shapes.get(ref.diff_id)
        with base_errors(ref):
            if members is not None:
                return apply_skeleton(members, root, label=ref.diff_id, options=options)
            log = self.shapes.recorder(ref.diff_id)
            with ref.opener() as blob:
                result = extract_layer(blob, root, media_type=ref.descriptor.media_type, options=options,
                                       expected_diff_id=ref.diff_id, record=log)
        self.shapes.keep(ref.diff_id, log)
        return result.skipped

    def skeleton_root(self, layers: list[LayerRef]) -> Path:
        with self._lock:
            return self._skeletons[id(layers)][0]

    @contextlib.contextmanager
    def _skeleton_step(self, layers: list[LayerRef]) -> Iterator[StepFS]:
        from mason.snapshot import walker  # each strategy loads only its own snapshotter

        with self._lock:
            root = self._skeletons[id(layers)][0]
        before = walker.take(root)
        fs = StepFS(root)
        try:
            yield fs
        except BaseException:
            with self._lock:   # half a COPY is in it: the stage never uses it again
                self._skeletons.pop(id(layers), None)
            raise
        fs.changes = before.diff()

    @contextlib.contextmanager
    def step(self, layers: list[LayerRef], *, base_visible: bool = True) -> Iterator[StepFS]:
        from mason.snapshot import walker  # each strategy loads only its own snapshotter

        if isinstance(layers, SkeletonLayers) and base_visible:
            with self._skeleton_step(layers.of) as fs:
                yield fs
            return
        root = self._root_for(layers) if base_visible else self._new_root("link")
        before = walker.take(root)
        fs = StepFS(root)
        yield fs
        fs.changes = before.diff()
        fs.produced_in = root if base_visible else None

    @contextlib.contextmanager
    def view(self, layers: list[LayerRef], *, only: tuple[str, ...] | None = None) -> Iterator[Path]:
        yield self._root_for(layers)
