"""The stage's filesystem as steps see it (their ``LayerView``): roots over the stage's layers,
and the commit that turns a step's changes into the stage's next layer.

The snapshot strategy (overlay or walk, ``mason.executor.rootfs``) is asked for on first
use only: a stage whose every step is a cache hit never needs one, so it never probes the
machine's isolation either.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence, Union

from mason.cache.store import CacheEntry
from mason.executor.layers import LayerRef
from mason.executor.layerstore import LayerStore
from mason.executor.rootfs import OverlayStrategy, SkeletonLayers, StepFS, WalkStrategy
from mason.executor.settings import Settings
from mason.executor.skeletons import Skeletons
from mason.executor.stagestate import DirectLayer, StageState
from mason.executor.touching import layers_touching
from mason.oci.descriptor import Descriptor

if TYPE_CHECKING:   # host-root's module is imported only by host-root builds
    from mason.executor.hostrootfs import HostRootStrategy
    from mason.fsops.deferred import DeferredFiles
    from mason.snapshot.changeset import ChangeSet

# The layer writer and the direct-COPY helpers are imported where a step first needs them: a
# cached step only adds its layer (``add_cached``), so an all-cached build loads neither.

Strategy = Union[OverlayStrategy, WalkStrategy, "HostRootStrategy"]


class StageLayers:
    """The ``LayerView`` of one stage of a build (``mason.executor.steps.context``)."""

    def __init__(self, state: StageState, *, settings: Settings, strategy: Callable[[], Strategy],
                 store: LayerStore, skeletons: Skeletons, blobs: Callable[[], Path],
                 filesystem_needed_later: Callable[[], bool]):
        self._state = state
        self._settings = settings
        self._strategy = strategy
        self._store = store
        self._skeletons = skeletons
        self._blobs = blobs
        self._needed_later = filesystem_needed_later

    @property
    def layers(self) -> list[LayerRef]:
        return self._state.layers

    def step(self, lowers: list[LayerRef], *, base_visible: bool = True) -> contextlib.AbstractContextManager[StepFS]:
        return self._strategy().step(lowers, base_visible=base_visible)

    def view(self, layers: list[LayerRef], *, only: tuple[str, ...] | None = None) -> contextlib.AbstractContextManager[Path]:
        return self._strategy().view(layers, only=only)

    def touching(self, layers: list[LayerRef], sources: list[str]) -> list[str] | None:
        """``mason.executor.touching.layers_touching`` of ``layers``, those without a directory
        judged from their headers where the walk strategies know them (this build extracted
        the layer, or wrote its blob)."""
        shapes = getattr(self._strategy(), "shapes", None)
        if shapes is None:
            return layers_touching(layers, sources)
        return layers_touching(layers, sources, index=lambda ref: shapes.index(ref.diff_id, ref.blob_path))

    def deferred(self) -> DeferredFiles | None:
        from mason.executor.directcopy import deferred_for   # at first use (see above)

        strategy = self._strategy()
        # Walk strategies: only in the stage's tail, and only while it has no full root (the
        # COPY runs over a skeleton); a full root would get the files from the blob right
        # after, at the next step, which costs more than writing them now.
        tail = (strategy.name != "overlay" and not self._needed_later()
                and not strategy.has_root(self._state.layers))
        return deferred_for(self._settings.options.direct_copy, strategy.name, tail=tail)

    def skeleton_lowers(self) -> tuple[list[LayerRef], frozenset[str]]:
        from mason.executor.directcopy import skeleton_lowers   # at first use (see above)

        strategy = self._strategy()
        if not isinstance(strategy, OverlayStrategy):
            # Walk and host-root: the stage's skeleton root, unless it has a full root (walk
            # that), or / holds it (host-root).
            hidden = strategy.skeleton(self._state.layers)
            if hidden is None:
                return self._state.layers, frozenset()
            return SkeletonLayers(self._state.layers), hidden
        return skeleton_lowers(self._state.layers, self._state.direct_layers, self._store, self._skeletons,
                               hits=not self._needed_later())

    def commit(self, fs: StepFS, created_by: str, deferred: DeferredFiles | None = None, *,
               empty_layer: bool = True) -> LayerRef | None:
        """Turn a finished step's changes into a layer.

        A step that changed nothing still gets a layer, an empty tar, as BuildKit's exporter
        writes one for every RUN, COPY, ADD and WORKDIR other than ``/``; ``empty_layer=False``
        (WORKDIR ``/``, ``--single-snapshot``) records an ``empty_layer`` history entry instead.

        ``deferred``: a COPY's files recorded instead of written (``mason.executor.directcopy``);
        they join the layer, and the layer then has no directory (extracted when needed)."""
        # at first use: a cached step writes no layer (see above)
        from mason.executor.directcopy import layer_entries, write_into_upper
        from mason.tarfs.writer import write_layer

        state, settings = self._state, self._settings
        assert fs.changes is not None, "a step is committed after its root is closed"
        changes = without_ignored(fs.changes, settings.snapshot_ignores)
        created = settings.created()
        extra: Sequence = ()
        directory = fs.layer_dir
        produced_in = fs.produced_in
        if deferred:
            extra, dropped = layer_entries(deferred, settings.snapshot_ignores)
            if fs.layer_dir is None:           # a walk strategy's root: it lacks the files
                if dropped or changes != fs.changes:
                    write_into_upper(deferred, fs.root)   # the root must show what was left out
                else:
                    produced_in = None         # applied from the blob where needed
            elif dropped or changes != fs.changes:
                write_into_upper(deferred, fs.layer_dir)  # the upper dir must show what was left out
            else:
                directory = None
        if changes.empty and not extra and not empty_layer:
            state.config.add_empty_history(created_by, created)
            return None
        blob = write_layer(changes.source_root, changes.paths, whiteouts=changes.whiteouts,
                           opaque_dirs=changes.opaque_dirs, out_dir=self._blobs(),
                           options=settings.layer_options(state.docker_media), extra_entries=extra)
        desc = Descriptor(blob.media_type(docker=state.docker_media), blob.digest, blob.size)
        path = blob.path
        ref = LayerRef(blob.diff_id, desc, lambda: open(path, "rb"), None,
                       directory=directory, produced_in=produced_in, blob_path=path)
        state.layers.append(ref)
        state.config.add_layer(blob.diff_id, created_by, created)
        if deferred and directory is None and fs.layer_dir is not None:
            assert fs.layer_dir is not None
            state.direct_layers.append(DirectLayer(ref, fs.layer_dir, frozenset(deferred.files)))
        return ref

    def add_cached(self, entry: CacheEntry, created_by: str) -> LayerRef | None:
        # the time the layer was made (BuildKit keeps a cached layer's own), unless times are fixed
        state, created = self._state, self._settings.created()
        if entry.history_created and not self._settings.fixed_time:
            created = entry.history_created
        if entry.layer is None:
            state.config.add_empty_history(created_by, created)
            return None
        ref = LayerRef(entry.diff_id, entry.layer, entry.opener, entry.origin)
        state.layers.append(ref)
        state.config.add_layer(entry.diff_id, created_by, created)
        return ref


def without_ignored(changes: ChangeSet, ignored: tuple[str, ...]) -> ChangeSet:
    """Drop ``--ignore-path`` entries and ``/var/run`` (Kaniko's flags) from a change set."""
    if not ignored:
        return changes

    def keep(p: str) -> bool:
        return not any(p == i or p.startswith(i + "/") for i in ignored)

    return replace(changes, paths=tuple(p for p in changes.paths if keep(p)),
                   whiteouts=tuple(p for p in changes.whiteouts if keep(p)),
                   opaque_dirs=tuple(p for p in changes.opaque_dirs if keep(p)))
