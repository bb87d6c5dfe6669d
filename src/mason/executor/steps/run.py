"""RUN steps: the command line (shell, exec or heredoc form), environment, user, mounts.

The command runs in the sandbox with the step root as ``/``; what it writes there becomes
the layer. ``RUN --mount`` sources (secrets, caches, binds, tmpfs) are mounted by the
sandbox inside its private mount namespace, or, without mount rights, placed for the RUN and
removed before the snapshot (mason.sandbox.mountemu): either way they never reach the layer.
The key record holds the argv, env, user, workdir, network and what each mount exposes: a
bind mount the context's files, a stage's files at its source or an image's digest; cache, tmpfs and
secret mounts their options only, so a secret never enters a key. The history text is the
argv as BuildKit writes it, after ``|N NAME=value…`` for the stage's ARG declarations.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import os
import posixpath
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mason.cache import records
from mason.dockerfile import instructions as di
from mason.errors import BuildError, NotSupportedError
from mason.executor import events as ev
from mason.executor.layers import LayerRef
from mason.executor.settings import Settings
from mason.executor.stageconfig import DEFAULT_PATH
from mason.executor.steps.context import Step, StepContext
from mason.executor.steps.copykey import stage_paths_digest
from mason.executor.layers import layer_refs_of
from mason.fsops import digest_sources, resolve_inroot
from mason.sandbox.entitlements import NETWORKS, SECURITIES, run_modes

# The sandbox's spec and the user lookup are imported where a RUN is run: a cached RUN only
# computes its key (an all-cached build loads neither). So are the helpers of each --mount
# type (cache directories, context binds, the ssh agent proxy, in-memory secrets).
if TYPE_CHECKING:
    from mason.dockerfile.mounts import Mount as MountFlag
    from mason.sandbox.spec import Mount


class RunStep(Step):
    kind = "RUN"
    makes_layer = True
    needs_filesystem = True
    not_cached_reason = "RUN and WORKDIR layers are not cached (--cache-run-layers=false)"

    def history(self, ins: di.Run, ctx: StepContext) -> str:
        # BuildKit's runCommandString: "|N A=1 B=2 " before the argv when the stage declared ARGs
        args = ctx.scope.history_args()
        prefix = [f"|{len(args)}", *args] if args else []
        return "RUN " + " ".join(prefix + command_argv(ctx.config.shell, ins)) + " # buildkit"

    def cacheable(self, settings: Settings) -> bool:
        return settings.options.cache_run_layers

    def record(self, ins: di.Run, ctx: StepContext) -> dict[str, Any]:
        cfg, scope = ctx.config, ctx.scope
        env = dict(scope.env)
        env.update(scope.run_args())
        return records.run_record(
            argv=command_argv(cfg.shell, ins), heredocs=[(h.name, h.content) for h in ins.heredocs], env=env,
            user=cfg.user, workdir=cfg.workdir, network=network_mode(ins),
            mounts=[mount_record(ctx, m, cfg.workdir) for m in ins.mounts],
            writer=ctx.cache.writer(ctx.docker_media) if ctx.cache else {}, hostname=scope.sandbox_hostname())

    def execute(self, ins: di.Run, ctx: StepContext) -> LayerRef | None:
        return run_step(ctx, ins, self.history(ins, ctx))


def command_argv(shell: list[str], ins: di.Run) -> list[str]:
    """BuildKit's rules: a lone heredoc is the script; otherwise the shell gets the command
    line followed by the heredoc bodies, exactly as a shell script would contain them.
    (Also the cache key's ``argv``: computed before the step runs, from the SHELL it sees.)"""
    if not ins.prepend_shell:
        if ins.heredocs:
            raise NotSupportedError("heredocs with the exec (JSON) form of RUN")
        return list(ins.command)
    text = ins.command[0] if ins.command else ""
    if not ins.heredocs:
        return [*shell, text]
    first = ins.heredocs[0]
    if len(ins.heredocs) == 1 and _is_lone_heredoc(text, first.name):
        body = first.body()     # <<- strips the leading tabs here: no shell reads the heredoc
        if body.startswith("#!"):
            return ["/dev/pipes/" + first.name]  # the script runs by its own interpreter
        return [*shell, body]
    script = text
    for doc in ins.heredocs:
        script += "\n" + doc.content + doc.name    # as BuildKit; the shell handles <<-
    return [*shell, script]


def _is_lone_heredoc(text: str, name: str) -> bool:
    stripped = text.strip()
    for quote in ("", "'", '"'):
        for dash in ("", "-"):
            if stripped == f"<<{dash}{quote}{name}{quote}":
                return True
    return False


def sandbox_mounts(ctx: StepContext, ins: di.Run, stack: contextlib.ExitStack, env: dict[str, str]) -> list[Mount]:
    """``RUN --mount`` entries as sandbox mounts (BuildKit's defaults applied)."""
    from mason.sandbox.spec import Mount   # when the RUN runs (see the imports)
    from mason.sandbox.secretfile import memory_secret
    from mason.executor.steps.runcache import cache_dir

    options = ctx.settings.options
    workdir = ctx.config.workdir
    out = []
    ssh_count = 0
    for m in ins.mounts:
        target = m.target
        if target and not target.startswith("/"):
            target = posixpath.join(workdir, target)
        if m.type == "secret":
            secret_id = m.id or (posixpath.basename(m.target) if m.target else None)
            if not secret_id:
                raise BuildError("RUN --mount=type=secret needs id= or target=")
            value = next((s.value for s in options.secrets if s.id == secret_id), None)
            if value is None:
                if m.required:
                    raise BuildError(f"secret {secret_id!r} is required but was not given",
                                     hint=f"pass --secret id={secret_id},src=FILE (or env=VAR)")
                continue
            if m.env:
                env[m.env] = value.decode("utf-8", "surrogateescape")
                if not m.target:
                    continue
            # in memory, never on disk: a SIGKILLed mason leaves no copy (mason.sandbox.secretfile)
            path = Path(memory_secret(stack, value, mode=m.mode if m.mode is not None else 0o400,
                                      uid=m.uid or 0, gid=m.gid or 0))
            out.append(Mount(target or f"/run/secrets/{secret_id}", "bind", path, readonly=True, in_memory=True))
        elif m.type == "ssh":
            mount = _ssh(ctx, m, target or f"/run/buildkit/ssh_agent.{ssh_count}", stack)
            ssh_count += 1
            if mount is not None:
                out.append(mount)
                env.setdefault("SSH_AUTH_SOCK", mount.target)    # the first ssh mount's, as BuildKit
        elif m.type == "tmpfs":
            out.append(Mount(_required(m, target), "tmpfs", size_bytes=m.size))
        elif m.type == "cache":
            target = _required(m, target)
            # A read-only cache is bound read-only; where mounts are emulated it is copied in and
            # the copy dropped after the RUN (as a read-only bind is), so its writes never persist.
            out.append(Mount(target, "bind", cache_dir(ctx, m, target, stack), readonly=m.readonly,
                             move=not m.readonly))
        elif m.type == "bind":
            out.append(_bind(ctx, m, _required(m, target), stack))
        else:
            raise NotSupportedError(f"RUN --mount=type={m.type} is not supported",
                                    hint="mason supports bind, cache, tmpfs, secret and ssh mounts")
    return out


def _ssh(ctx: StepContext, m: MountFlag, target: str, stack: contextlib.ExitStack) -> Mount | None:
    """The build's agent for ``id`` (default "default") behind a socket of the RUN's own
    (``mason.sandbox.agentproxy``); None when it was not given and the mount is optional."""
    from mason.sandbox.agentproxy import AgentProxy  # when the RUN runs (see the imports)
    from mason.sandbox.spec import Mount

    if m.source:
        raise BuildError("ssh does not support source")
    ssh_id = m.id or "default"
    agent = next((s.socket for s in ctx.settings.options.ssh if s.id == ssh_id), None)
    if agent is None:
        if m.required:
            raise BuildError(f"ssh agent {ssh_id!r} is required but was not given",
                             hint=f"pass --ssh {ssh_id}=SOCKET (or --ssh {ssh_id} for $SSH_AUTH_SOCK)")
        return None
    # a short name: a Unix socket path has room for 107 bytes only
    name = hashlib.sha256(f"{ctx.step_id}:{target}".encode()).hexdigest()[:16]
    path = ctx.scratch("ssh") / name
    stack.enter_context(AgentProxy(agent, str(path), uid=m.uid or 0, gid=m.gid or 0,
                                   mode=m.mode if m.mode is not None else 0o600))
    # moved into place where mounts are refused: a socket cannot be copied
    return Mount(target, "bind", path, readonly=False, move=True)


def _bind(ctx: StepContext, m: MountFlag, target: str, stack: contextlib.ExitStack) -> Mount:
    """A bind mount of the context, a stage or an image; ``rw`` writes go to a throw-away copy."""
    from mason.fsops.contextbind import bind_source  # when the RUN runs (see the imports)
    from mason.sandbox.spec import Mount

    if m.from_:
        stage = ctx.sources.stage(m.from_)
        layers = stage.layers if stage is not None else layer_refs_of(ctx.sources.image(m.from_))
        root = str(stack.enter_context(ctx.layers.view(layers)))
    else:
        scratch = ctx.scratch("bind-context") / hashlib.sha256(f"{ctx.step_id}:{target}".encode()).hexdigest()[:16]
        return Mount(target, "bind", Path(bind_source(ctx.sources.context, m.source or "/", str(scratch),
                                                      writable=not m.readonly)), readonly=m.readonly)
    source = resolve_inroot(root, m.source or "/")
    host = Path(root) / source.lstrip("/")
    if not host.exists():
        raise BuildError(f"RUN --mount=type=bind: source {m.source or '/'} not found in stage {m.from_}")
    if not m.readonly:
        copy = ctx.scratch("bind-rw") / hashlib.sha256(f"{ctx.step_id}:{target}".encode()).hexdigest()[:16]
        if host.is_dir():
            shutil.copytree(host, copy, symlinks=True)
        else:
            shutil.copy2(host, copy)
        host = copy
    return Mount(target, "bind", host, readonly=m.readonly)


def mount_record(ctx: StepContext, m: MountFlag, workdir: str) -> dict[str, Any]:
    target = m.target
    if target and not target.startswith("/"):
        target = posixpath.join(workdir, target)
    if m.type == "secret":
        secret_id = m.id or (posixpath.basename(m.target) if m.target else "")
        return records.secret_mount(target=target, secret_id=secret_id, mode=m.mode, uid=m.uid, gid=m.gid,
                                    required=m.required, env=m.env)
    if m.type == "cache":
        from mason.executor.steps.runcache import cache_origin, whole_cache  # a cache mount's key only

        target = _required(m, target)
        return records.cache_mount(target=target, cache_id=m.id or target, sharing=m.sharing, mode=m.mode,
                                   uid=m.uid, gid=m.gid, source=None if whole_cache(m) else m.source,
                                   origin=cache_origin(ctx, m))
    if m.type == "tmpfs":
        return records.tmpfs_mount(target=_required(m, target), size=m.size)
    if m.type == "bind":
        return _bind_record(ctx, m, _required(m, target))
    if m.type == "ssh":     # what the RUN is given, never the agent's path or keys
        return {"type": "ssh", "id": m.id or "default", "target": target, "mode": m.mode, "uid": m.uid,
                "gid": m.gid, "required": m.required}
    return {"type": m.type}     # the RUN itself refuses it, naming the line


def _bind_record(ctx: StepContext, m: MountFlag, target: str) -> dict[str, Any]:
    """Bind mounts by what they expose: the context's files (after .dockerignore, as the
    mount shows them), a stage's files at ``source`` (BuildKit keys a mount by its input's
    content at the selected path: a stage rebuilt with the same files there is a hit), an
    image by its digest."""
    source = m.source or "/"
    if m.from_:
        stage = ctx.sources.stage(m.from_)
        if stage is not None:
            origin = "stage"
            if ctx.cache is None:
                content = "stage:" + str(stage.cache_key)
            else:
                try:
                    content = stage_paths_digest(ctx, stage, [source], dest=target, workdir="/")
                except BuildError:
                    content = "missing"     # the RUN reports the missing source itself
        else:
            image = ctx.sources.image(m.from_)
            origin = content = "image:" + image.digest
    else:
        origin = "context"
        tree = ctx.sources.context
        try:
            content = digest_sources(tree, [source], dest=target, preserve_owner=True,
                                     hash_cache=ctx.cache.hash_cache if ctx.cache else None).digest
        except BuildError:
            content = "missing"     # the RUN reports the missing source itself
    return records.bind_mount(target=target, source=source, readonly=m.readonly, origin=origin, content=content)


def _required(m: MountFlag, target: str | None) -> str:
    """The target of a cache, tmpfs or bind mount: BuildKit has no default for it."""
    if not target:
        raise BuildError(f"RUN --mount=type={m.type} needs target=")
    return target


def network_mode(ins: di.Run) -> str:
    """The RUN's sandbox as its cache key records it: the network, plus ``+insecure``."""
    network = NETWORKS.get(ins.network) or str(ins.network)
    security = SECURITIES.get(ins.security) or str(ins.security)
    return network if security == "sandbox" else f"{network}+{security}"


def run_step(ctx: StepContext, ins: di.Run, created_by: str) -> LayerRef | None:
    # when the RUN runs (see the imports)
    from mason.sandbox.spec import Mount, RunSpec
    from mason.sandbox.users import resolve_user

    options = ctx.settings.options
    network, security = run_modes(ins.network, ins.security, options.allow, ctx.location)
    config, step_id = ctx.config, ctx.step_id
    argv = command_argv(config.shell, ins)
    env = dict(ctx.scope.run_env())
    runner = ctx.runner()
    with contextlib.ExitStack() as stack:
        mounts = sandbox_mounts(ctx, ins, stack, env)
        if argv[0].startswith("/dev/pipes/"):
            script_dir = ctx.scratch("heredocs", step_id.replace("/", "-"))
            script = script_dir / ins.heredocs[0].name
            script.write_text(ins.heredocs[0].body())
            os.chmod(script, 0o755)
            mounts.append(Mount("/dev/pipes", "bind", script_dir, readonly=True))
        with ctx.layers.step(ctx.layers.layers) as fs:
            user = resolve_user(fs.root, config.user)
            env.setdefault("PATH", DEFAULT_PATH)
            env.setdefault("HOME", user.home)
            spec = RunSpec(root=fs.root, argv=tuple(argv), env=tuple(f"{k}={v}" for k, v in env.items()),
                           user=user, cwd=config.workdir, mounts=tuple(mounts), network=network,
                           security=security, host_loopback=options.run_host_loopback)
            if (hostname := ctx.scope.sandbox_hostname()) is not None:
                spec = dataclasses.replace(spec, hostname=hostname)
            tail: collections.deque[str] = collections.deque(maxlen=10)

            def output(stream: str, line: str) -> None:
                tail.append(line)
                ctx.reporter.emit(ev.StepOutput(step_id, line))

            code = runner.run(spec, output)
            if code != 0:
                shown = "".join(f"\n  | {line}" for line in tail)
                at = ins.location   # a multi-line RUN is located by its whole line range
                where = f"{ctx.location}-{at.end_line}" if at.end_line > at.start_line else ctx.location
                raise BuildError(f"{where}: RUN {' '.join(ins.command)[:200]} exited with code {code}{shown}")
    return ctx.layers.commit(fs, created_by)
