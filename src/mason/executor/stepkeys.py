"""The key record of one expanded instruction, computed *before* it runs.

A RUN's record needs no filesystem; a COPY from the context needs only the context; a
``COPY --from=<stage>`` needs the content digest of the copied paths in that stage, which
comes from a memo in the cache (when the stage was itself assembled from cache hits, so its
files are not on this machine) or from a read-only view of the stage. The rules for what
each step sees are in ``mason.cache.records``.

``record_for`` returns None for a step whose output its definition cannot predict (ADD of
a URL without ``--checksum``, ADD of a git repository): the chain continues from its output.
"""

from __future__ import annotations

import posixpath

from mason.cache import records
from mason.cache.keys import digest_of, key_hex
from mason.dockerfile import instructions as di

MEMO_PREFIX = "mason-memo-"


def created_by(ins, shell: list[str]) -> str:
    """The history ``created_by`` of a layer step: identical whether it hit or ran."""
    if isinstance(ins, di.Run):
        from mason.executor.runstep import command_argv

        return "RUN " + " ".join(command_argv(shell, ins)) + " # buildkit"
    text = " ".join(ins.original.split()) if ins.original else ins.name
    if isinstance(ins, (di.Copy, di.Add)):
        return text + " # buildkit"
    return text


def record_for(builder, ins, cfg, scope, loc: str) -> dict | None:
    """The key record of layer step ``ins`` (already expanded) as the stage stands at it:
    ``cfg`` the StageConfig it sees, ``scope`` the variables before it."""
    build = builder.build
    writer = build.cache.writer(builder.state.docker_media)
    if isinstance(ins, di.Run):
        from mason.executor.runstep import command_argv, network_mode

        env = dict(scope.env)
        env.update(scope.run_args())
        return records.run_record(
            argv=command_argv(cfg.shell, ins), heredocs=[(h.name, h.content) for h in ins.heredocs], env=env,
            user=cfg.user, workdir=cfg.workdir, network=network_mode(ins),
            mounts=[_mount_record(builder, m, cfg.workdir) for m in ins.mounts], writer=writer)
    if isinstance(ins, di.Workdir):
        path = posixpath.normpath(posixpath.join(cfg.workdir, ins.path))
        return records.workdir_record(path="/" + path.lstrip("/"), user=cfg.user, writer=writer)
    if isinstance(ins, (di.Copy, di.Add)):
        return _copy_record(builder, ins, cfg, loc, writer)
    raise AssertionError(f"{ins.name} is not a layer step")


def _copy_record(builder, ins, cfg, loc: str, writer: dict) -> dict | None:
    from mason import fsops
    from mason.executor.copystep import _stage_index
    from mason.context.git import is_git_url
    from mason.fsops.add import is_url

    build = builder.build
    is_add = isinstance(ins, di.Add)
    workdir = cfg.workdir
    inline = [fsops.digest_content(s.name, s.data.encode("utf-8"), dest=ins.dest, workdir=workdir,
                                   chmod=ins.chmod) for s in ins.inline]
    add_extra = {"unpack": ins.unpack, "checksum": ins.checksum, "keep_git_dir": ins.keep_git_dir} if is_add else None
    ref = getattr(ins, "from_", None)
    sources = list(ins.sources)
    digest = None
    if is_add and any(is_url(s) or is_git_url(s) for s in sources):
        if not ins.checksum or any(is_git_url(s) for s in sources):
            return None     # what the URL serves is not known before fetching it
        digest = digest_of({"urls": sources, "checksum": ins.checksum})
        origin = "url"
    elif ref is None:
        origin = "context"
        if sources:
            digest = fsops.digest_sources(build.context, sources, dest=ins.dest, workdir=workdir,
                                          chmod=ins.chmod, excludes=tuple(ins.excludes),
                                          parents=getattr(ins, "parents", False), where=loc,
                                          hash_cache=build.cache.hash_cache, extra=add_extra).digest
    elif (index := _stage_index(build.plan, ref)) is not None:
        origin = "stage"
        digest = _stage_content(builder, build.results[index], ins, workdir, loc) if sources else None
    else:
        image = build.pull(ref)
        origin = "image:" + image.digest
        digest = digest_of({"image": image.digest, "sources": sources})
    return records.copy_record(kind="add" if is_add else "copy", sources_digest=digest, inline=inline,
                               dest=ins.dest, workdir=workdir, chown=_chown_text(ins.chown), chmod=ins.chmod,
                               link=ins.link, parents=getattr(ins, "parents", False),
                               excludes=ins.excludes, origin=origin, add=add_extra, writer=writer)


def _chown_text(chown: str | None) -> str | None:
    """``--chown`` as written after expansion; a bare number means user:same-number."""
    if not chown:
        return None
    user, _, group = chown.partition(":")
    if user.isdigit() and not group:
        return f"{user}:{user}"
    return chown


def _stage_content(builder, source, ins, workdir: str, loc: str) -> str:
    """The content digest of what ``COPY --from=<stage>`` copies (Kaniko #1244/#1262).

    Memos map it from the source stage's final key (an all-hits stage: its files are not on
    this machine) and from the diff_ids of the stage's layers that can change the copied
    paths (``mason.executor.touching``: a stage rebuilt here in which only other paths changed).
    Either memo found, no file is read; otherwise the files are hashed and both are stored."""
    from mason.executor.touching import layers_touching
    from mason.fsops import SourceTree, digest_sources

    build, cache = builder.build, builder.build.cache
    preserve = not ins.chown

    def tag_for(stage_key: str) -> str:
        memo = records.copy_memo_record(stage_key=stage_key, sources=ins.sources, dest=ins.dest,
                                        workdir=workdir, chmod=ins.chmod, excludes=ins.excludes,
                                        parents=getattr(ins, "parents", False), preserve_owner=preserve)
        return MEMO_PREFIX + key_hex(digest_of(memo))

    tags = [tag_for(source.cache_key)]
    lookups = [] if source.built_locally else list(tags)
    touching = layers_touching(source.layers, list(ins.sources))
    if touching is not None:
        tags.append(tag_for("layers:" + digest_of(touching)))
        lookups.append(tags[-1])
    for tag in lookups:
        found = cache.get_document(tag)
        if found and isinstance(found.get("content"), str):
            return found["content"]
    with build.fs.view(source.layers) as root:
        tree = SourceTree(str(root), None, f"stage {source.stage.id}")
        content = digest_sources(tree, list(ins.sources), dest=ins.dest, workdir=workdir, chmod=ins.chmod,
                                 excludes=tuple(ins.excludes), parents=getattr(ins, "parents", False),
                                 preserve_owner=preserve, copy_xattrs=True, where=loc).digest
    for tag in tags:
        cache.put_document(tag, {"content": content})
    return content


def _mount_record(builder, m, workdir: str) -> dict:
    build = builder.build
    target = m.target
    if target and not target.startswith("/"):
        target = posixpath.join(workdir, target)
    if m.type == "secret":
        secret_id = m.id or (posixpath.basename(m.target) if m.target else "")
        return records.secret_mount(target=target, secret_id=secret_id, mode=m.mode, uid=m.uid, gid=m.gid,
                                    required=m.required, env=m.env)
    if m.type == "cache":
        return records.cache_mount(target=target, cache_id=m.id or target, sharing=m.sharing, mode=m.mode,
                                   uid=m.uid, gid=m.gid)
    if m.type == "tmpfs":
        return records.tmpfs_mount(target=target, size=m.size)
    if m.type == "bind":
        return _bind_record(builder, m, target)
    return {"type": m.type}     # the RUN itself refuses it, naming the line


def _bind_record(builder, m, target: str) -> dict:
    """Bind mounts by what they expose: the context's files (after .dockerignore, as the
    mount shows them), a stage by its final key, an image by its digest."""
    from mason.executor.copystep import _stage_index
    from mason.errors import BuildError
    from mason.fsops import SourceTree, digest_sources

    build = builder.build
    source = m.source or "/"
    if m.from_:
        index = _stage_index(build.plan, m.from_)
        if index is not None:
            origin = content = "stage:" + str(build.results[index].cache_key)
        else:
            image = build.pull(m.from_)
            origin = content = "image:" + image.digest
    else:
        origin = "context"
        tree = SourceTree(str(build.options.context_dir), build.ignore)
        try:
            content = digest_sources(tree, [source], dest=target, preserve_owner=True,
                                     hash_cache=build.cache.hash_cache).digest
        except BuildError:
            content = "missing"     # the RUN reports the missing source itself
    return records.bind_mount(target=target, source=source, readonly=m.readonly, origin=origin, content=content)
