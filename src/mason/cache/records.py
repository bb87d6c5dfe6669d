"""The typed records a step's key is made of: what each kind of step reads, precisely.

Every field is the value *after* expansion. Which configuration a step sees (the rule
for config-only instructions such as ENV, USER, WORKDIR, SHELL, ARG, LABEL):

* RUN sees ``argv`` (the shell from SHELL already applied, heredocs resolved), ``env``
  (the image ENV plus the in-scope ARG values, ``StageScope.run_args``; proxy build-args
  are left out as BuildKit does), ``user``, ``workdir``, ``network`` and its mounts;
* COPY/ADD see ``workdir`` (relative destinations), their sources' content digest,
  ``chown`` (the expanded text: names resolve through the stage's own /etc/passwd, which
  the parent key already covers), ``chmod``, ``dest`` and their flags;
* WORKDIR sees its path and ``user`` (the directory it creates is owned by USER).

So ``LABEL``, ``EXPOSE``, ``CMD``… never change a layer key (they cannot change a layer;
the image config is rebuilt on every build anyway), and ``ENV``/``USER``/``WORKDIR``/
``SHELL``/``ARG`` change exactly the later steps that see them. Every layer-producing record
carries the ``writer`` record, so layers written with different compression, timestamps or
media types never share a key.

Secrets: a secret mount is recorded by its options (id, target, mode, owner, required,
env *name*); its value never enters a record.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

WRITER_FORMAT = 1     # mason's layer writer: bump when the bytes it writes for a tree change


def writer_record(*, compression: str, level: int | None, fixed_mtime: int | None,
                  mtime_clamp: int | None, docker_media: bool, ignore_paths: Sequence[str] = ()) -> dict:
    """Everything besides the step itself that decides the bytes of the layer blob."""
    return {"format": WRITER_FORMAT, "compression": compression, "level": level,
            "fixed_mtime": fixed_mtime, "mtime_clamp": mtime_clamp, "docker_media": docker_media,
            "ignore_paths": sorted(p.strip("/") for p in ignore_paths if p.strip("/"))}


def run_record(*, argv: Sequence[str], heredocs: Sequence[tuple[str, str]], env: Mapping[str, str],
               user: str, workdir: str, network: str, mounts: Sequence[Mapping[str, Any]],
               writer: Mapping[str, Any], hostname: str | None = None) -> dict:
    """A RUN. ``heredocs`` are (name, body) pairs: a lone ``#!`` heredoc runs by path, so
    its body is not in ``argv`` and must be recorded on its own. ``hostname``: the sandbox's
    when a build sets one (recorded only then, so other keys stay as they were)."""
    record = {"kind": "run", "argv": list(argv), "heredocs": [[n, b] for n, b in heredocs],
              "env": dict(sorted(env.items())), "user": user, "workdir": workdir, "network": network,
              "mounts": [dict(m) for m in mounts], "writer": dict(writer)}
    if hostname is not None:
        record["hostname"] = hostname
    return record


def secret_mount(*, target: str | None, secret_id: str, mode: int | None, uid: int | None,
                 gid: int | None, required: bool, env: str | None) -> dict:
    return {"type": "secret", "target": target, "id": secret_id, "mode": mode, "uid": uid, "gid": gid,
            "required": required, "env": env}


def cache_mount(*, target: str, cache_id: str, sharing: str | None, mode: int | None,
                uid: int | None, gid: int | None, source: str | None = None, origin: str | None = None) -> dict:
    """A cache mount by its options only: its contents are by definition not an input; the
    stage or image a ``from=`` cache starts from (``origin``) is, as BuildKit's mount input."""
    out = {"type": "cache", "target": target, "id": cache_id, "sharing": sharing or "shared",
           "mode": mode, "uid": uid, "gid": gid}
    if source is not None or origin is not None:   # older keys stay as they were
        out.update(source=source, origin=origin)
    return out


def tmpfs_mount(*, target: str, size: int | None) -> dict:
    return {"type": "tmpfs", "target": target, "size": size}


def bind_mount(*, target: str, source: str, readonly: bool, origin: str, content: str) -> dict:
    """A bind mount by the content digest of what it exposes; ``origin`` says from where
    ("context", "stage:<key>" or "image:<digest>")."""
    return {"type": "bind", "target": target, "source": source, "readonly": readonly, "from": origin,
            "content": content}


def copy_record(*, kind: str, sources_digest: str | None, inline: Sequence[str], dest: str,
                workdir: str, chown: str | None, chmod: str | None, link: bool, parents: bool,
                excludes: Sequence[str], origin: str, add: Mapping[str, Any] | None,
                writer: Mapping[str, Any]) -> dict:
    """A COPY or ADD. ``sources_digest`` comes from ``mason.fsops.digest_sources`` (paths,
    types, modes, owners, link targets, contents; never mtimes); ``inline`` are the digests
    of heredoc sources; ``origin`` is "context", "stage" or "image:<manifest digest>"."""
    return {"kind": kind, "sources": sources_digest, "inline": list(inline), "dest": dest,
            "workdir": workdir, "chown": chown, "chmod": chmod, "link": link, "parents": parents,
            "excludes": list(excludes), "from": origin, "add": dict(add) if add is not None else None,
            "writer": dict(writer)}


def workdir_record(*, path: str, user: str, writer: Mapping[str, Any]) -> dict:
    return {"kind": "workdir", "path": path, "user": user, "writer": dict(writer)}


def copy_memo_record(*, stage_key: str | None, sources: Sequence[str], dest: str, workdir: str,
                     chmod: str | None, excludes: Sequence[str], parents: bool, preserve_owner: bool) -> dict:
    """What ``COPY --from=<stage>`` would digest, named by the source stage's final key: a
    memo entry maps it to the content digest, so an all-hits build need not download the
    source stage's layers to compute the copy's key."""
    return {"kind": "copy-from-memo", "stage": stage_key, "sources": list(sources), "dest": dest,
            "workdir": workdir, "chmod": chmod, "excludes": list(excludes), "parents": parents,
            "preserve_owner": preserve_owner}
