"""RUN steps: the command line (shell, exec or heredoc form), environment, user, mounts.

The command runs in the sandbox with the step root as ``/``; what it writes there becomes
the layer. ``RUN --mount`` sources (secrets, caches, binds, tmpfs) are mounted by the
sandbox inside its private mount namespace, so they never reach the step root or the layer.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import os
import posixpath
import shutil
from pathlib import Path

from mason.executor import events as ev
from mason.executor.stageconfig import DEFAULT_PATH
from mason.errors import BuildError, NotSupportedError


def command_argv(shell: list[str], ins) -> list[str]:
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
        body = first.content
        if body.startswith("#!"):
            return ["/dev/pipes/" + first.name]  # the script runs by its own interpreter
        return [*shell, body]
    script = text
    for doc in ins.heredocs:
        script += "\n" + doc.content.rstrip("\n") + "\n" + doc.name
    return [*shell, script + "\n"]


def _is_lone_heredoc(text: str, name: str) -> bool:
    stripped = text.strip()
    for quote in ("", "'", '"'):
        for dash in ("", "-"):
            if stripped == f"<<{dash}{quote}{name}{quote}":
                return True
    return False


def _mounts(builder, ins, stack: contextlib.ExitStack, env: dict[str, str]) -> list:
    """``RUN --mount`` entries as sandbox mounts (BuildKit's defaults applied)."""
    from mason.sandbox.spec import Mount

    build, state = builder.build, builder.state
    workdir = state.config.workdir
    out = []
    for m in ins.mounts:
        target = m.target
        if target and not target.startswith("/"):
            target = posixpath.join(workdir, target)
        if m.type == "secret":
            secret_id = m.id or (posixpath.basename(m.target) if m.target else None)
            if not secret_id:
                raise BuildError("RUN --mount=type=secret needs id= or target=")
            value = next((s.value for s in build.options.secrets if s.id == secret_id), None)
            if value is None:
                if m.required:
                    raise BuildError(f"secret {secret_id!r} is required but was not given",
                                     hint=f"pass --secret id={secret_id},src=FILE (or env=VAR)")
                continue
            if m.env:
                env[m.env] = value.decode("utf-8", "surrogateescape")
                if not m.target:
                    continue
            path = build.work.sub("secrets") / hashlib.sha256(f"{builder.stage.index}:{builder._step}:{secret_id}".encode()).hexdigest()
            path.write_bytes(value)
            os.chmod(path, m.mode if m.mode is not None else 0o400)
            os.chown(path, m.uid or 0, m.gid or 0)
            out.append(Mount(target or f"/run/secrets/{secret_id}", "bind", path, readonly=True))
        elif m.type == "tmpfs":
            out.append(Mount(target, "tmpfs", size_bytes=m.size))
        elif m.type == "cache":
            out.append(Mount(target, "bind", _cache_dir(builder, m, target, stack), readonly=False))
        elif m.type == "bind":
            out.append(_bind(builder, m, target, stack))
        else:
            raise NotSupportedError(f"RUN --mount=type={m.type} is not supported",
                                    hint="mason supports bind, cache, tmpfs and secret mounts")
    return out


def _cache_dir(builder, m, target: str, stack: contextlib.ExitStack) -> Path:
    """A persistent cache directory, keyed by id (default: the target), shared between
    builds on this machine; ``sharing=locked`` serialises users with a file lock."""
    if m.from_:
        raise NotSupportedError("RUN --mount=type=cache,from= is not supported")
    build = builder.build
    base = Path(build.options.cache_dir) / "run-cache" if build.options.cache_dir else build.work.sub("run-cache")
    cache_id = m.id or target
    path = base / hashlib.sha256(cache_id.encode()).hexdigest()[:32]
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, m.mode if m.mode is not None else 0o755)
        os.chown(path, m.uid or 0, m.gid or 0)
    sharing = m.sharing or "shared"
    if sharing not in ("shared", "locked", "private"):
        raise BuildError(f"RUN --mount=type=cache: unknown sharing={sharing}")
    if sharing in ("locked", "private"):
        fd = os.open(str(path) + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        stack.callback(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the fd closes
    return path


def _bind(builder, m, target: str, stack: contextlib.ExitStack):
    """A bind mount of the context, a stage or an image; ``rw`` writes go to a throw-away copy."""
    from mason.fsops import resolve_inroot
    from mason.sandbox.spec import Mount

    from mason.executor.copystep import _stage_index

    build = builder.build
    if m.from_:
        index = _stage_index(build.plan, m.from_)
        if index is not None:
            layers = build.results[index].layers
        else:
            from mason.executor.layers import layer_refs_of

            layers = layer_refs_of(build.pull(m.from_))
        root = str(stack.enter_context(build.fs.view(layers)))
    else:
        from mason.fsops.contextbind import bind_source

        scratch = build.work.sub("bind-context") / hashlib.sha256(
            f"{builder.stage.index}:{builder._step}:{target}".encode()).hexdigest()[:16]
        return Mount(target, "bind", Path(bind_source(build.context, m.source or "/", str(scratch),
                                                      writable=not m.readonly)), readonly=m.readonly)
    source = resolve_inroot(root, m.source or "/")
    host = Path(root) / source.lstrip("/")
    if not host.exists():
        raise BuildError(f"RUN --mount=type=bind: source {m.source or '/'} not found in stage {m.from_}")
    if not m.readonly:
        copy = build.work.sub("bind-rw") / hashlib.sha256(f"{builder.stage.index}:{builder._step}:{target}".encode()).hexdigest()[:16]
        if host.is_dir():
            shutil.copytree(host, copy, symlinks=True)
        else:
            shutil.copy2(host, copy)
        host = copy
    return Mount(target, "bind", host, readonly=m.readonly)


def network_mode(ins) -> str:
    network = {None: "host", "default": "host", "host": "host", "none": "none"}.get(ins.network)
    if network is None:
        raise NotSupportedError(f"RUN --network={ins.network} is not supported")
    return network


def run_step(builder, ins, step_id: str, loc: str):
    from mason.sandbox.spec import RunSpec
    from mason.sandbox.users import resolve_user

    build, state = builder.build, builder.state
    if ins.security not in (None, "sandbox"):
        raise NotSupportedError(f"RUN --security={ins.security} is not supported")
    network = network_mode(ins)
    argv = command_argv(state.config.shell, ins)
    env = dict(state.scope.run_env())
    created_by = "RUN " + " ".join(argv) + " # buildkit"
    runner = build.runner()
    with contextlib.ExitStack() as stack:
        mounts = _mounts(builder, ins, stack, env)
        if argv[0].startswith("/dev/pipes/"):
            script_dir = build.work.sub("heredocs", step_id.replace("/", "-"))
            script = script_dir / ins.heredocs[0].name
            script.write_text(ins.heredocs[0].content)
            os.chmod(script, 0o755)
            from mason.sandbox.spec import Mount

            mounts.append(Mount("/dev/pipes", "bind", script_dir, readonly=True))
        with build.fs.step(state.layers) as fs:
            user = resolve_user(fs.root, state.config.user)
            env.setdefault("PATH", DEFAULT_PATH)
            env.setdefault("HOME", user.home)
            spec = RunSpec(root=fs.root, argv=tuple(argv), env=tuple(f"{k}={v}" for k, v in env.items()),
                           user=user, cwd=state.config.workdir, mounts=tuple(mounts), network=network)
            tail: collections.deque[str] = collections.deque(maxlen=10)

            def output(stream: str, line: str) -> None:
                tail.append(line)
                build.reporter.emit(ev.StepOutput(step_id, line))

            code = runner.run(spec, output)
            if code != 0:
                shown = "".join(f"\n  | {line}" for line in tail)
                raise BuildError(f"{loc}: RUN {' '.join(ins.command)[:200]} exited with code {code}{shown}")
    return builder.commit(fs, created_by)
