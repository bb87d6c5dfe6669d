"""The key record of a COPY or ADD, computed before it runs.

A COPY from the context needs only the context; a ``COPY --from=<stage>`` needs the
content digest of the copied paths in that stage, which comes from a memo in the cache
(when the stage was itself assembled from cache hits, so its files are not on this machine)
or from a read-only view of the stage. An ADD of a git repository is keyed by the commit its
ref resolves to (``git ls-remote``). ``copy_record`` returns None for a step whose output
its definition cannot predict (ADD of a URL without ``--checksum``, of an abbreviated
commit): the chain continues from its output. The rules for what each step sees are in
``mason.cache.records``.
"""

from __future__ import annotations

from typing import Any

from mason import fsops
from mason.cache import records
from mason.cache.keys import digest_of, key_hex
from mason.fetch.git import is_git_url, parse_buildkit, resolve_commit
from mason.dockerfile import instructions as di
from mason.executor.stagestate import StageState
from mason.executor.steps.context import StepContext
from mason.fsops.add import is_url

MEMO_PREFIX = "mason-memo-"


def copy_record(ctx: StepContext, ins: di.Copy | di.Add) -> dict[str, Any] | None:
    cache = ctx.cache
    assert cache is not None, "keys are computed only with the cache on"
    writer = cache.writer(ctx.docker_media)
    is_add = isinstance(ins, di.Add)
    add = ins if isinstance(ins, di.Add) else None
    workdir, loc = ctx.config.workdir, ctx.location
    inline = [fsops.digest_content(s.name, s.data.encode("utf-8"), dest=ins.dest, workdir=workdir,
                                   chmod=ins.chmod) for s in ins.inline]
    add_extra = {"unpack": add.unpack, "checksum": add.checksum, "keep_git_dir": add.keep_git_dir} if add else None
    ref = getattr(ins, "from_", None)
    sources = list(ins.sources)
    digest = None
    if add and any(is_url(s) or is_git_url(s) for s in sources):
        if any(is_git_url(s) for s in sources):
            commits = _git_commits(ctx, sources)
            if commits is None:
                return None     # an abbreviated commit: only a clone tells what it is
            digest = digest_of({"git": commits, "checksum": add.checksum})
            origin = "git"
        elif not add.checksum:
            return None     # what the URL serves is not known before fetching it
        else:
            digest = digest_of({"urls": sources, "checksum": add.checksum})
            origin = "url"
    elif ref is None:
        origin = "context"
        if sources:
            digest = fsops.digest_sources(ctx.sources.context, sources, dest=ins.dest, workdir=workdir,
                                          chmod=ins.chmod, excludes=tuple(ins.excludes),
                                          parents=getattr(ins, "parents", False), where=loc,
                                          hash_cache=cache.hash_cache, extra=add_extra).digest
    elif (stage := ctx.sources.stage(ref)) is not None:
        origin = "stage"
        digest = _stage_content(ctx, stage, ins, workdir) if sources else None
    else:
        image = ctx.sources.image(ref)
        origin = "image:" + image.digest
        digest = digest_of({"image": image.digest, "sources": sources})
    return records.copy_record(kind="add" if is_add else "copy", sources_digest=digest, inline=inline,
                               dest=ins.dest, workdir=workdir, chown=_chown_text(ins.chown), chmod=ins.chmod,
                               link=ins.link, parents=getattr(ins, "parents", False),
                               excludes=ins.excludes, origin=origin, add=add_extra, writer=writer)


def _git_commits(ctx: StepContext, sources: list[str]) -> list[dict[str, Any]] | None:
    """Each git source by the commit its ref names now (``git ls-remote``; BuildKit keys a
    git source by the resolved commit), its subdir and options: the same commit is a hit,
    a moved ref a miss. The commits are remembered for the ADD itself to check out."""
    cache = ctx.cache
    assert cache is not None
    out = []
    for source in sources:
        src = parse_buildkit(source)
        commit = cache.git_commits.get(source)
        if commit is None:
            commit = resolve_commit(src, tls=ctx.settings.options.tls)
            if commit is None:
                return None
            cache.git_commits[source] = commit
        out.append({"commit": commit, "subdir": src.subdir, "keep_git_dir": src.keep_git_dir,
                    "submodules": src.submodules})
    return out


def _chown_text(chown: str | None) -> str | None:
    """``--chown`` as written after expansion; a bare number means user:same-number."""
    if not chown:
        return None
    user, _, group = chown.partition(":")
    if user.isdigit() and not group:
        return f"{user}:{user}"
    return chown


def _stage_content(ctx: StepContext, source: StageState, ins: di.Copy | di.Add, workdir: str) -> str:
    """The content digest of what ``COPY --from=<stage>`` copies (Kaniko #1244/#1262)."""
    return stage_paths_digest(ctx, source, list(ins.sources), dest=ins.dest, workdir=workdir, chmod=ins.chmod,
                              excludes=tuple(ins.excludes), parents=getattr(ins, "parents", False),
                              preserve_owner=not ins.chown)


def stage_paths_digest(ctx: StepContext, source: StageState, sources: list[str], *, dest: str, workdir: str,
                       chmod: str | None = None, excludes: tuple[str, ...] = (), parents: bool = False,
                       preserve_owner: bool = True) -> str:
    """The content digest of ``sources`` in a finished stage, as COPY would copy them to
    ``dest`` (also what ``RUN --mount=from=<stage>`` shows at its target).

    Memos map it from the source stage's final key (an all-hits stage: its files are not on
    this machine) and from the diff_ids of the stage's layers that can change the copied
    paths (``mason.executor.touching``: a stage rebuilt here in which only other paths changed).
    Either memo found, no file is read; otherwise the files are hashed and both are stored."""
    cache = ctx.cache
    assert cache is not None
    preserve = preserve_owner

    def tag_for(stage_key: str | None) -> str:
        memo = records.copy_memo_record(stage_key=stage_key, sources=sources, dest=dest,
                                        workdir=workdir, chmod=chmod, excludes=list(excludes),
                                        parents=parents, preserve_owner=preserve)
        return MEMO_PREFIX + key_hex(digest_of(memo))

    tags = [tag_for(source.cache_key)]

    def memo_at(tag: str) -> str | None:
        found = cache.get_document(tag)
        memo = found.get("content") if found else None
        return memo if isinstance(memo, str) else None

    if not source.built_locally:
        memo = memo_at(tags[0])
        if memo is not None:
            return memo
    # after the stage-key memo: an all-hits stage with a memo never reads a layer's headers
    touching = ctx.layers.touching(source.layers, list(sources))
    if touching is not None:
        tags.append(tag_for("layers:" + digest_of(touching)))
        memo = memo_at(tags[-1])
        if memo is not None:
            return memo
    with ctx.layers.view(source.layers, only=tuple(sources)) as root:
        tree = fsops.SourceTree(str(root), None, f"stage {source.stage.id}")
        content = fsops.digest_sources(tree, list(sources), dest=dest, workdir=workdir, chmod=chmod,
                                       excludes=tuple(excludes), parents=parents,
                                       preserve_owner=preserve, copy_xattrs=True, where=ctx.location).digest
    for tag in tags:
        cache.put_document(tag, {"content": content})
    return content
