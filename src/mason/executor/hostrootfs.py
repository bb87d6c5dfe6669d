"""The host-root snapshot strategy: every stage is built in the container's own ``/``.

One root for the whole build, so stages run one after another (the executor sets one stage
job). A stage's root is made by :meth:`HostRoot.bare` (the container's own entries stashed,
everything else removed, checked) and then its layers put on: a layer the layer store holds
(extracted there by an earlier build with the same ``--cache-dir``, or by the privileged
mode) is copied from it (:func:`mason.snapshot.hostapply.apply_lower`), any other is
extracted from its blob straight onto ``/`` under the same kept-path rules
(``KeptPaths.rule``): one pass over its files instead of an extraction and a copy. A ``FROM
<stage>`` that follows its parent directly continues in the same root.
A step's changes are found by two stat walks of ``/`` without the kept paths, exactly as the
walk strategy does in its stage roots.

Reading another stage (``COPY --from``, ``RUN --mount=from=``) needs that stage's files while
``/`` holds this one: those views are plain directories in the work dir, made by a
:class:`WalkStrategy` of their own.

:meth:`close` returns ``/`` to the pristine state and verifies it, on every exit path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

from mason.errors import UsageError
from mason.executor.layers import LayerRef, apply_onto, materialize
from mason.executor.layershapes import LayerShapes
from mason.executor.layerstore import LayerStore
from mason.executor.rootfs import SkeletonLayers, StepFS, WalkStrategy
from mason.executor.treeremoval import remove_tree
from mason.executor.workdir import LOCK_NAME, PREFIX
from mason.snapshot import walker
from mason.snapshot.hostapply import apply_lower
from mason.snapshot.keptpaths import KeptPaths
from mason.snapshot.pristine import STATE_NAME, HostRoot

ROOT = Path("/")


class HostRootStrategy:
    name = "host-root"

    def __init__(self, store: LayerStore, scratch: Path, kept: KeptPaths, *, warn: Callable[[str], None]):
        self.store = store
        self.kept = kept
        self.root = HostRoot(kept)
        self.root.discard = self._discard
        self._removal = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mason-hostroot-rm")
        self.warn = warn
        # The headers of every layer extracted into the store: the skeleton roots of a
        # stage's COPY tail (``_views``) are made from them, not from the blobs again.
        self.shapes = LayerShapes()
        self._views = WalkStrategy(scratch, shapes=self.shapes)
        self._kept_rule = kept.rule(warn)
        self._current: list[LayerRef] | None = None   # the stage whose layers / holds
        self._root_views = 0                           # COPYs reading that stage from / right now
        self._applied = 0
        self._open = False

    def open(self, build_id: str) -> str:
        done = self.root.acquire(build_id)
        self._open = True
        return done

    def close(self) -> None:
        """Pristine again and verified (raises BuildError naming what differs); idempotent.
        What the reset moved out of / is still being removed: ``finish`` waits for it."""
        if not self._open:
            return
        self._open = False
        self.root.restore()

    def finish(self) -> None:
        """The build's very end (after its outputs): the trash is gone, then / is released,
        so the next build in this container never meets this one's removal."""
        self._removal.shutdown(wait=True)
        self.root.release()

    def _discard(self, path: str) -> None:
        """What a reset moved out of /: removed in the background (the next stage does not
        wait for the previous one's files), batched over threads (``treeremoval``)."""
        def remove() -> None:
            if os.path.isdir(path) and not os.path.islink(path):
                remove_tree(path, fallback=lambda p: shutil.rmtree(p, ignore_errors=True))
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        self._removal.submit(remove)

    def _root_for(self, layers: list[LayerRef]) -> Path:
        fresh = self._current is not layers
        if fresh:
            assert not self._root_views, "a COPY reads the stage in / while another claims it"
            self.root.bare()
            self._current, self._applied = layers, 0
        # A layer a step made in this very root is there already (unless / was reset since).
        pending = [ref for ref in layers[self._applied:] if fresh or ref.produced_in != ROOT]
        for ref in pending:
            if ref.directory is None and not self.store.has(ref.diff_id):
                self._extract_onto_root(ref)
            else:
                for lower in materialize([ref], self.store, shapes=self.shapes):
                    apply_lower(str(lower), "/", self.kept, warn=self.warn)
        self._applied = len(layers)
        return ROOT

    def _extract_onto_root(self, ref: LayerRef) -> None:
        """A layer the store does not hold goes from its blob straight onto / (one pass: an
        extraction into the store and a copy from it wrote every file twice), under the
        same kept-path rules as a copy from the store."""
        apply_onto(ref, ROOT, shapes=self.shapes, limits=self.store.limits, kept=self._kept_rule)

    def adopt(self, child: list[LayerRef], parent: list[LayerRef]) -> None:
        """``FROM <stage>``: right after its parent, the child continues in the same root."""
        if self._current is parent:
            self._current = child
        self._views.adopt(child, parent)

    def has_root(self, layers: list[LayerRef]) -> bool:
        """Whether / holds the stage (its steps walk /, not a skeleton)."""
        return self._current is layers

    def skeleton(self, layers: list[LayerRef]) -> frozenset[str] | None:
        """A stage's tail of COPYs runs in a skeleton root in the work dir (``WalkStrategy``),
        not in /, unless / holds the stage already: the stage before it stays in / (its
        files are what those COPYs read). Kept paths are hidden there too, so a COPY that
        reaches one (which in / is a mount, the runtime or mason's own) runs in / instead."""
        if self._current is layers:
            return None
        hidden = self._views.skeleton(layers)
        if hidden is None:
            return None
        # In /, the ancestors of kept paths exist whether the image has them or not: a COPY
        # creating one (here: absent) runs in / too.
        skeleton = self._views.skeleton_root(layers)
        absent = {"/" + rel for rel in self.kept.ancestors if rel and not os.path.lexists(skeleton / rel)}
        return hidden | absent | {"/" + rel for rel in self.kept.relative}

    @contextlib.contextmanager
    def step(self, layers: list[LayerRef], *, base_visible: bool = True) -> Iterator[StepFS]:
        if not base_visible or isinstance(layers, SkeletonLayers):
            # COPY --link (a layer of its own) and skeleton steps: off the root
            with self._views.step(layers, base_visible=base_visible) as fs:
                yield fs
            return
        root = self._root_for(layers)
        ignore = self.kept.relative
        before = walker.take(root, ignore)
        fs = StepFS(root)
        yield fs
        fs.changes = before.diff(ignore)
        fs.produced_in = ROOT
        self._applied = len(layers)             # the step's own layer, if any, is marked produced_in

    @contextlib.contextmanager
    def view(self, layers: list[LayerRef], *, only: tuple[str, ...] | None = None) -> Iterator[Path]:
        """A root to read ``layers`` from: / itself when it holds that stage and the reader
        reads only ``only`` (in-root paths) clear of every kept path (``COPY --from`` the
        stage just built: no re-extraction of it); else a plain root in the work dir."""
        if only is not None and self._current is layers and self._clear_of_kept(only):
            self._root_for(layers)              # its layers not in / yet (a tail's COPYs) applied
            self._root_views += 1
            try:
                yield ROOT
            finally:
                self._root_views -= 1
            return
        with self._views.view(layers) as root:
            yield root

    def _clear_of_kept(self, paths: tuple[str, ...]) -> bool:
        """No path, its resolution in / or anything below it is or holds a kept path."""
        ancestors = self.kept.ancestors
        for path in paths:
            literal = os.path.normpath("/" + path).strip("/")
            # a wildcard stands for anything in its directory: judge the directory
            while any(c in literal for c in "*?["):
                literal = literal.rpartition("/")[0]
            resolved = os.path.realpath("/" + literal).strip("/")
            for rel in {literal, resolved}:
                if rel in ancestors or self.kept.kind_of(rel) is not None:
                    return False
        return True


def kept_paths_for(options, work_path: Path, runtime: tuple[str, ...], env) -> KeptPaths:
    """Everything this build needs outside the image: mason's runtime, its work dir and state,
    and the paths the options name (context, cache dir, outputs, registry files)."""
    own = {str(work_path), "/" + STATE_NAME, *_live_work_dirs(work_path.parent)}
    named = [options.context_dir, options.cache_dir, options.oci_layout_path, options.tar_path,
             options.digest_file, options.image_name_with_digest_file,
             options.image_name_tag_with_digest_file, options.cache_report, env.get("DOCKER_CONFIG")]
    if options.dockerfile is not None:
        named.append(options.dockerfile)
    access = options.registry
    named += list(access.ca_certificates.values())
    named += [p for pair in access.client_certificates.values() for p in pair]
    for path in named:
        if path:
            real = os.path.realpath(str(path))
            if real == "/":
                raise UsageError(f"{path} is the build root itself: in host-root isolation the context, "
                                 "outputs and caches must be below their own directory (e.g. a CI volume)")
            own.add(real)
    return KeptPaths.of(runtime=runtime, own=tuple(own), markers=_container_markers())


def _container_markers() -> tuple[str, ...]:
    """What the container runtime put in / to say what it is (container detection reads them)."""
    return tuple(p for p in ("/.dockerenv", "/run/.containerenv") if os.path.lexists(p))


def _live_work_dirs(parent: Path) -> list[str]:
    """Work dirs of other builds still running (their lock is held): never ours to remove."""
    live: list[str] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return live
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            fd = os.open(entry / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            live.append(str(entry))
        finally:
            os.close(fd)
    return live
