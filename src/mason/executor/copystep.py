"""COPY and ADD steps: pick the source tree, resolve ``--chown``, write into the step root.

Sources: the build context (after ``.dockerignore``), a stage of *this* build
(``--from=<name|index>``) or an image (``--from=<reference>``). With ``--link`` the files are
written into an empty root, so the layer does not depend on what lies beneath it.

In overlay mode regular files are recorded rather than written and the layer is streamed
from the sources (``mason.executor.directcopy``); the source tree (a stage view) therefore
stays open until the step is committed.
"""

from __future__ import annotations

import contextlib

from mason.errors import BuildError, NotSupportedError


def _chown(builder, spec: str | None, root_cm) -> tuple[int, int] | None:
    """``--chown=user[:group]`` as numbers; names are looked up in the stage's own
    ``/etc/passwd`` and ``/etc/group`` (a bare user gets its primary group, as BuildKit)."""
    if not spec:
        return None
    user, _, group = spec.partition(":")
    if user.isdigit() and (not group or group.isdigit()):
        return int(user), int(group or user)
    from mason.sandbox.users import resolve_owner

    with root_cm() as root:
        return resolve_owner(root, spec)


def _source_tree(builder, ins, stack: contextlib.ExitStack):
    """The SourceTree a COPY reads from, plus whether it comes from a filesystem (keep owners)."""
    from mason.fsops import SourceTree

    build = builder.build
    ref = getattr(ins, "from_", None)
    if ref is None:
        return build.context, False
    index = _stage_index(build.plan, ref)
    if index is not None:
        if index not in build.results:
            raise BuildError(f"COPY --from={ref}: stage not built yet (is it after this one?)")
        layers = build.results[index].layers
        label = f"stage {ref}"
    else:
        from mason.executor.layers import layer_refs_of

        layers = layer_refs_of(build.pull(ref))
        label = f"image {ref}"
    root = stack.enter_context(build.fs.view(layers))
    return SourceTree(str(root), None, label), True


def _stage_index(plan, ref: str) -> int | None:
    for stage in plan.stages:
        if (stage.name is not None and stage.name.lower() == ref.lower()) or str(stage.index) == ref:
            return stage.index
    return None


def copy_step(builder, ins, loc: str):
    from mason.executor.directcopy import deferred_for, skeleton_lowers
    from mason.dockerfile import instructions as di
    from mason.fsops.deferred import DeferredFiles, HiddenFileReached

    build, state = builder.build, builder.state
    is_add = isinstance(ins, di.Add)
    with contextlib.ExitStack() as stack:
        tree, from_fs = _source_tree(builder, ins, stack)
        chown = _chown(builder, ins.chown, lambda: build.fs.view(state.layers))
        deferred = deferred_for(build) if ins.sources else None
        if deferred is not None and not is_add and not ins.inline and not ins.link:
            # Over the skeletons of earlier direct layers: only COPY checks every path it
            # touches against the hidden ones (ADD's archives and heredocs do not).
            lowers, hidden = skeleton_lowers(builder, state.layers, hits=not builder.filesystem_needed_later())
            if hidden:
                try:
                    # Inside the ExitStack: deferred files are read from the source tree at commit.
                    return _write(builder, ins, loc, tree, from_fs, chown, lowers,
                                  DeferredFiles(hidden=hidden))
                except HiddenFileReached:
                    pass  # it needs files of the earlier layers: again over the full view
        return _write(builder, ins, loc, tree, from_fs, chown, state.layers, deferred)


def _write(builder, ins, loc: str, tree, from_fs: bool, chown, lowers, deferred):
    """Run the COPY/ADD over ``lowers`` and commit its layer."""
    from mason import fsops
    from mason.dockerfile import instructions as di

    build, state = builder.build, builder.state
    is_add = isinstance(ins, di.Add)
    workdir = state.config.workdir
    created_by = " ".join(ins.original.split()) + " # buildkit"
    with build.fs.step(lowers, base_visible=not ins.link) as fs:
        root = str(fs.root)
        for inline in ins.inline:
            fsops.write_content(root, ins.dest, inline.name, inline.data.encode("utf-8"),
                                workdir=workdir, chown=chown, chmod=ins.chmod)
        if ins.sources:
            if is_add:
                options = fsops.AddOptions(chown=chown, chmod=ins.chmod, excludes=tuple(ins.excludes),
                                           unpack=ins.unpack, checksum=ins.checksum,
                                           keep_git_dir=bool(ins.keep_git_dir))
                fsops.add(tree, list(ins.sources), root, ins.dest, work_dir=str(build.work.sub("add")),
                          workdir=workdir, options=options, where=loc, deferred=deferred)
            else:
                fsops.copy(tree, list(ins.sources), root, ins.dest, workdir=workdir, chown=chown,
                           chmod=ins.chmod, excludes=tuple(ins.excludes), parents=ins.parents,
                           preserve_owner=from_fs and chown is None, copy_xattrs=from_fs, where=loc,
                           deferred=deferred)
        elif not ins.inline:
            raise NotSupportedError(f"{ins.name} without sources")
    return builder.commit(fs, created_by, deferred=deferred)
