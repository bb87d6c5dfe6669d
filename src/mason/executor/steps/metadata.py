"""Instructions that only change the image config: ENV, LABEL, ARG, EXPOSE, VOLUME, USER,
CMD, ENTRYPOINT, SHELL, STOPSIGNAL, HEALTHCHECK, MAINTAINER, ONBUILD.

They have no layer and no cache key: they change a later step's key only through a field
that step's record contains. Each but ONBUILD adds an ``empty_layer`` history entry with
BuildKit's text for it (``mason.dockerfile.metahistory``), as BuildKit does.
"""

from __future__ import annotations

from typing import Any, Callable

from mason.dockerfile import instructions as di
from mason.dockerfile.metahistory import created_by
from mason.errors import BuildError
from mason.executor.layers import LayerRef
from mason.executor.stageconfig import StageConfig
from mason.executor.steps.context import Step, StepContext


class MetadataStep(Step):
    """One metadata instruction kind, by its effect on the config."""

    kind = "metadata"

    def __init__(self, effect: Callable[[StageConfig, Any], None]):
        self._effect = effect

    def effect(self, ins: Any, config: StageConfig) -> None:
        self._effect(config, ins)

    def history(self, ins: Any, ctx: StepContext) -> str:
        """BuildKit's text for what the instruction did (``mason.dockerfile.metahistory``)."""
        after: dict[str, Any] = {}
        if isinstance(ins, (di.Cmd, di.Entrypoint)):
            after[ins.name.title()] = _command(ctx.config, ins)
        elif isinstance(ins, di.Healthcheck):
            after["Healthcheck"] = _healthcheck(ins)
        return created_by(ins, after) or ""

    def execute(self, ins: Any, ctx: StepContext) -> LayerRef | None:
        text = self.history(ins, ctx)       # before the effect: CMD's argv uses the SHELL in force
        self.effect(ins, ctx.config)
        if isinstance(ins, di.Onbuild):
            return None                     # BuildKit records no history entry for ONBUILD
        # No time of its own unless fixed: BuildKit gives a metadata entry the time of the next
        # new layer (StageConfig.finish), so a rebuild from the cache is the same image.
        ctx.config.add_empty_history(text, ctx.settings.created() if ctx.settings.fixed_time else None)
        return None


def _cmd(cfg: StageConfig, ins: di.Cmd) -> None:
    cfg.set_cmd(_command(cfg, ins))
    cfg.config["ArgsEscaped"] = True        # BuildKit's dispatchCmd sets it, whatever the form


def _maintainer(cfg: StageConfig, ins: di.Maintainer) -> None:
    cfg.doc["author"] = ins.maintainer


# The effect of each metadata instruction (``Label`` is a subclass of ``Env``: the table is
# looked up by exact type, so LABEL sets labels).
EFFECTS: dict[type[di.Instruction], Callable[[StageConfig, Any], None]] = {
    di.Label: lambda cfg, ins: cfg.add_labels((p.key, p.value) for p in ins.pairs),
    di.Env: lambda cfg, ins: cfg.set_env((p.key, p.value) for p in ins.pairs),
    di.Arg: lambda cfg, ins: None,             # ARG changes the scope only
    di.Expose: lambda cfg, ins: cfg.expose(_ports(ins.ports)),
    di.Volume: lambda cfg, ins: cfg.add_volumes(ins.paths),
    di.User: lambda cfg, ins: cfg.set_user(ins.user),
    di.Cmd: lambda cfg, ins: _cmd(cfg, ins),
    di.Entrypoint: lambda cfg, ins: cfg.set_entrypoint(_command(cfg, ins)),
    di.Shell: lambda cfg, ins: cfg.set_shell(list(ins.shell)),
    di.StopSignal: lambda cfg, ins: cfg.set_stopsignal(ins.signal),
    di.Healthcheck: lambda cfg, ins: cfg.set_healthcheck(_healthcheck(ins)),
    di.Maintainer: _maintainer,
    di.Onbuild: lambda cfg, ins: cfg.add_onbuild(ins.expression),
}


def _command(cfg: StageConfig, ins: di.Cmd | di.Entrypoint) -> list[str]:
    if ins.prepend_shell:
        return [*cfg.shell, *ins.command]
    return list(ins.command)


def _ports(ports: tuple[str, ...]) -> list[str]:
    """``80``, ``53/udp``, ``8000-8002/tcp`` -> ``80/tcp``, ``53/udp``, ``8000/tcp``…"""
    out: list[str] = []
    for port in ports:
        number, _, proto = port.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise BuildError(f"EXPOSE {port}: unknown protocol {proto!r}")
        first, _, last = number.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise BuildError(f"EXPOSE {port}: not a port number") from None
        if not (0 < lo <= hi <= 65535):
            raise BuildError(f"EXPOSE {port}: port out of range")
        out.extend(f"{p}/{proto}" for p in range(lo, hi + 1))
    return out


def _healthcheck(ins: di.Healthcheck) -> dict[str, Any]:
    test = list(ins.test)
    if test and test[0].upper() == "NONE":
        return {"Test": ["NONE"]}
    hc: dict[str, Any] = {"Test": test}
    for key, value in (("Interval", ins.interval), ("Timeout", ins.timeout), ("StartPeriod", ins.start_period),
                       ("StartInterval", ins.start_interval), ("Retries", ins.retries)):
        if value:
            hc[key] = value
    return hc
