"""RUN steps: the command line (shell, exec or heredoc form), environment, user, mounts.

The command runs in the sandbox with the step root as ``/``; what it writes there becomes
the layer. ``RUN --mount`` sources (secrets, caches, binds, tmpfs) are mounted by the
sandbox inside its private mount namespace, so they never reach the step root or the layer.
The key record holds the argv, env, user, workdir, network and what each mount exposes
(``mason.executor.steps.runmounts``); the history text is the argv BuildKit writes.
"""

from __future__ import annotations

import collections
import contextlib
import os

from mason.cache import records
from mason.dockerfile import instructions as di
from mason.errors import BuildError, NotSupportedError
from mason.executor import events as ev
from mason.executor.layers import LayerRef
from mason.executor.stageconfig import DEFAULT_PATH
from mason.executor.steps.context import Step, StepContext
from mason.executor.steps.runmounts import mount_record, sandbox_mounts
from mason.sandbox.spec import Mount, RunSpec
from mason.sandbox.users import resolve_user


class RunStep(Step):
    kind = "RUN"
    makes_layer = True
    needs_filesystem = True
    not_cached_reason = "RUN and WORKDIR layers are not cached (--cache-run-layers=false)"

    def history(self, ins: di.Run, ctx: StepContext) -> str:
        return "RUN " + " ".join(command_argv(ctx.config.shell, ins)) + " # buildkit"

    def cacheable(self, settings) -> bool:
        return settings.options.cache_run_layers

    def record(self, ins: di.Run, ctx: StepContext) -> dict:
        cfg, scope = ctx.config, ctx.scope
        env = dict(scope.env)
        env.update(scope.run_args())
        return records.run_record(
            argv=command_argv(cfg.shell, ins), heredocs=[(h.name, h.content) for h in ins.heredocs], env=env,
            user=cfg.user, workdir=cfg.workdir, network=network_mode(ins),
            mounts=[mount_record(ctx, m, cfg.workdir) for m in ins.mounts],
            writer=ctx.cache.writer(ctx.docker_media) if ctx.cache else {})

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


def network_mode(ins: di.Run) -> str:
    network = {None: "host", "default": "host", "host": "host", "none": "none"}.get(ins.network)
    if network is None:
        raise NotSupportedError(f"RUN --network={ins.network} is not supported")
    return network


def run_step(ctx: StepContext, ins: di.Run, created_by: str) -> LayerRef | None:
    if ins.security not in (None, "sandbox"):
        raise NotSupportedError(f"RUN --security={ins.security} is not supported")
    network = network_mode(ins)
    config, step_id = ctx.config, ctx.step_id
    argv = command_argv(config.shell, ins)
    env = dict(ctx.scope.run_env())
    runner = ctx.runner()
    with contextlib.ExitStack() as stack:
        mounts = sandbox_mounts(ctx, ins, stack, env)
        if argv[0].startswith("/dev/pipes/"):
            script_dir = ctx.scratch("heredocs", step_id.replace("/", "-"))
            script = script_dir / ins.heredocs[0].name
            script.write_text(ins.heredocs[0].content)
            os.chmod(script, 0o755)
            mounts.append(Mount("/dev/pipes", "bind", script_dir, readonly=True))
        with ctx.layers.step(ctx.layers.layers) as fs:
            user = resolve_user(fs.root, config.user)
            env.setdefault("PATH", DEFAULT_PATH)
            env.setdefault("HOME", user.home)
            spec = RunSpec(root=fs.root, argv=tuple(argv), env=tuple(f"{k}={v}" for k, v in env.items()),
                           user=user, cwd=config.workdir, mounts=tuple(mounts), network=network)
            tail: collections.deque[str] = collections.deque(maxlen=10)

            def output(stream: str, line: str) -> None:
                tail.append(line)
                ctx.reporter.emit(ev.StepOutput(step_id, line))

            code = runner.run(spec, output)
            if code != 0:
                shown = "".join(f"\n  | {line}" for line in tail)
                raise BuildError(f"{ctx.location}: RUN {' '.join(ins.command)[:200]} exited with code {code}{shown}")
    return ctx.layers.commit(fs, created_by)
