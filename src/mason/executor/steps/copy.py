"""COPY and ADD steps: pick the source tree, resolve ``--chown``, write into the step root.

Sources: the build context (after ``.dockerignore``), a stage of *this* build
(``--from=<name|index>``) or an image (``--from=<reference>``). With ``--link`` the files are
written into an empty root, so the layer does not depend on what lies beneath it.

In overlay mode regular files are recorded rather than written and the layer is streamed
from the sources (``mason.executor.directcopy``); the source tree (a stage view) therefore
stays open until the step is committed. The key record is in ``mason.executor.steps.copykey``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, ContextManager

from mason import fsops
from mason.dockerfile import instructions as di
from mason.dockerfile.history import copy_created_by
from mason.errors import NotSupportedError
from mason.executor.layers import LayerRef, layer_refs_of
from mason.executor.settings import Settings
from mason.executor.steps.context import Step, StepContext
from mason.executor.steps.copykey import copy_record
from mason.fsops.deferred import DeferredFiles, HiddenFileReached


class CopyStep(Step):
    """COPY and ADD (``kind`` says which): one operation with two sets of flags."""

    makes_layer = True
    not_cached_reason = "COPY/ADD layers are cached only with --cache-copy-layers"

    def __init__(self, kind: str):
        self.kind = kind

    def history(self, ins: di.Copy | di.Add, ctx: StepContext) -> str:
        return copy_created_by(ins)

    def cacheable(self, settings: Settings) -> bool:
        return settings.options.cache_copy_layers

    def record(self, ins: di.Copy | di.Add, ctx: StepContext) -> dict[str, Any] | None:
        return copy_record(ctx, ins)

    def execute(self, ins: di.Copy | di.Add, ctx: StepContext) -> LayerRef | None:
        return copy_step(ctx, ins, self.history(ins, ctx))


def _chown(spec: str | None, root_cm: Callable[[], ContextManager[Path]]) -> tuple[int, int] | None:
    """``--chown=user[:group]`` as numbers; names are looked up in the stage's own
    ``/etc/passwd`` and ``/etc/group`` (a bare user gets its primary group, as BuildKit)."""
    if not spec:
        return None
    user, _, group = spec.partition(":")
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group or user)
    from mason.sandbox.users import resolve_owner   # names to look up: few builds have any

    with root_cm() as root:
        return resolve_owner(root, spec)


def _source_tree(ctx: StepContext, ins: di.Copy | di.Add, stack: contextlib.ExitStack,
                 only: tuple[str, ...] | None = None) -> tuple[fsops.SourceTree, bool]:
    """The SourceTree a COPY reads from, plus whether it comes from a filesystem (keep owners).
    ``only``: the step will not claim its stage's root while reading (see ``LayerView.view``)."""
    ref = getattr(ins, "from_", None)
    if ref is None:
        return ctx.sources.context, False
    stage = ctx.sources.stage(ref)
    if stage is not None:
        layers = stage.layers
        label = f"stage {ref}"
    else:
        layers = layer_refs_of(ctx.sources.image(ref))
        label = f"image {ref}"
    root = stack.enter_context(ctx.layers.view(layers, only=only))
    return fsops.SourceTree(str(root), None, label), True


def copy_step(ctx: StepContext, ins: di.Copy | di.Add, created_by: str) -> LayerRef | None:
    is_add = isinstance(ins, di.Add)
    layers = ctx.layers
    deferred = layers.deferred() if ins.sources else None
    if deferred is not None and not is_add and not ins.inline and not ins.link:
        # Over the skeletons of earlier layers: only COPY checks every path it touches
        # against the hidden ones (ADD's archives and heredocs do not).
        lowers, hidden = layers.skeleton_lowers()
        if hidden:
            try:
                # Inside the ExitStack: deferred files are read from the source tree at commit.
                # Off the stage's root, so the source stage may be read where it lies.
                with contextlib.ExitStack() as stack:
                    tree, from_fs = _source_tree(ctx, ins, stack, only=tuple(ins.sources))
                    chown = _chown(ins.chown, lambda: layers.view(layers.layers))
                    return _write(ctx, ins, created_by, tree, from_fs, chown, lowers,
                                  DeferredFiles(hidden=hidden))
            except HiddenFileReached:
                pass  # it needs files of the earlier layers: again over the full view
    with contextlib.ExitStack() as stack:
        tree, from_fs = _source_tree(ctx, ins, stack)
        chown = _chown(ins.chown, lambda: layers.view(layers.layers))
        return _write(ctx, ins, created_by, tree, from_fs, chown, layers.layers, deferred)


def _write(ctx: StepContext, ins: di.Copy | di.Add, created_by: str, tree: fsops.SourceTree, from_fs: bool,
           chown: tuple[int, int] | None, lowers: list[LayerRef], deferred: DeferredFiles | None) -> LayerRef | None:
    """Run the COPY/ADD over ``lowers`` and commit its layer."""
    workdir, loc = ctx.config.workdir, ctx.location
    with ctx.layers.step(lowers, base_visible=not ins.link) as fs:
        root = str(fs.root)
        for inline in ins.inline:
            fsops.write_content(root, ins.dest, inline.name, inline.data.encode("utf-8"),
                                workdir=workdir, chown=chown, chmod=ins.chmod)
        if ins.sources:
            if isinstance(ins, di.Add):
                options = fsops.AddOptions(chown=chown, chmod=ins.chmod, excludes=tuple(ins.excludes),
                                           unpack=ins.unpack, checksum=ins.checksum,
                                           keep_git_dir=bool(ins.keep_git_dir),
                                           git_commits=dict(ctx.cache.git_commits) if ctx.cache else {})
                fsops.add(tree, list(ins.sources), root, ins.dest, work_dir=str(ctx.scratch("add")),
                          workdir=workdir, options=options, where=loc, deferred=deferred,
                          tls=ctx.settings.options.tls)
            else:
                fsops.copy(tree, list(ins.sources), root, ins.dest, workdir=workdir, chown=chown,
                           chmod=ins.chmod, excludes=tuple(ins.excludes), parents=ins.parents,
                           preserve_owner=from_fs and chown is None, copy_xattrs=from_fs, where=loc,
                           deferred=deferred)
        elif not ins.inline:
            raise NotSupportedError(f"{ins.name} without sources")
    return ctx.layers.commit(fs, created_by, deferred=deferred)
