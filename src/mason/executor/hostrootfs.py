"""The host-root snapshot strategy: every stage is built in the container's own ``/``.

One root for the whole build, so stages run one after another (the executor sets one stage
job). A stage's root is made by :meth:`HostRoot.bare` (the container's own entries stashed,
everything else removed, checked) and then its layers copied on from the layer store
(:func:`mason.snapshot.hostapply.apply_lower`: each layer extracted once per store, not once
per stage). A ``FROM <stage>`` that follows its parent directly continues in the same root.
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
from pathlib import Path
from typing import Callable, Iterator

from mason.errors import UsageError
from mason.executor.layers import LayerRef, materialize
from mason.executor.layerstore import LayerStore
from mason.executor.rootfs import StepFS, WalkStrategy
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
        self.warn = warn
        self._views = WalkStrategy(scratch)
        self._current: list[LayerRef] | None = None   # the stage whose layers / holds
        self._applied = 0
        self._open = False

    def open(self, build_id: str) -> str:
        done = self.root.acquire(build_id)
        self._open = True
        return done

    def close(self) -> None:
        """Pristine again and verified (raises BuildError naming what differs); idempotent."""
        if not self._open:
            return
        self._open = False
        try:
            self.root.restore()
        finally:
            self.root.release()

    def _root_for(self, layers: list[LayerRef]) -> Path:
        fresh = self._current is not layers
        if fresh:
            self.root.bare()
            self._current, self._applied = layers, 0
        # A layer a step made in this very root is there already (unless / was reset since).
        pending = [ref for ref in layers[self._applied:] if fresh or ref.produced_in != ROOT]
        for lower in materialize(pending, self.store):
            apply_lower(str(lower), "/", self.kept, warn=self.warn)
        self._applied = len(layers)
        return ROOT

    def adopt(self, child: list[LayerRef], parent: list[LayerRef]) -> None:
        """``FROM <stage>``: right after its parent, the child continues in the same root."""
        if self._current is parent:
            self._current = child
        self._views.adopt(child, parent)

    @contextlib.contextmanager
    def step(self, layers: list[LayerRef], *, base_visible: bool = True) -> Iterator[StepFS]:
        if not base_visible:                    # COPY --link: a layer of its own, off the root
            with self._views.step(layers, base_visible=False) as fs:
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
    def view(self, layers: list[LayerRef]) -> Iterator[Path]:
        with self._views.view(layers) as root:
            yield root


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
