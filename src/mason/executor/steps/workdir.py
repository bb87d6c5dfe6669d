"""WORKDIR: set the config's working directory and create it when missing.

BuildKit creates a missing WORKDIR (owned by the current USER) as a layer of its own; an
existing one gets an empty layer (BuildKit's mkdir still makes a snapshot), except ``/``,
which BuildKit never makes, so it leaves an ``empty_layer`` history entry.
"""

from __future__ import annotations

import posixpath
from typing import Any

from mason.cache import records
from mason.cache.store import CacheEntry
from mason.dockerfile import instructions as di
from mason.errors import MasonError
from mason.executor.layers import LayerRef
from mason.executor.settings import Settings
from mason.executor.stageconfig import StageConfig
from mason.executor.steps.context import Step, StepContext
from mason.fsops import make_dirs, resolve_inroot


class WorkdirStep(Step):
    kind = "WORKDIR"
    makes_layer = True
    needs_filesystem = True
    not_cached_reason = "RUN and WORKDIR layers are not cached (--cache-run-layers=false)"

    def cacheable(self, settings: Settings) -> bool:
        return settings.options.cache_run_layers

    def record(self, ins: di.Workdir, ctx: StepContext) -> dict[str, Any]:
        cfg = ctx.config
        path = posixpath.normpath(posixpath.join(cfg.workdir, ins.path))
        writer = ctx.cache.writer(ctx.docker_media) if ctx.cache else {}
        return records.workdir_record(path="/" + path.lstrip("/"), user=cfg.user, writer=writer)

    def history(self, ins: di.Workdir, ctx: StepContext) -> str:
        """BuildKit's text names the resolved path (``WORKDIR w`` under /srv is ``WORKDIR /srv/w``);
        called before the step's effect, as planning calls it."""
        return "WORKDIR /" + posixpath.normpath(posixpath.join(ctx.config.workdir, ins.path)).lstrip("/")

    def effect(self, ins: di.Workdir, config: StageConfig) -> None:
        config.set_workdir(ins.path)

    def replay(self, ins: di.Workdir, ctx: StepContext, entry: CacheEntry) -> LayerRef | None:
        text = self.history(ins, ctx)
        self.effect(ins, ctx.config)
        return ctx.layers.add_cached(entry, text)

    def execute(self, ins: di.Workdir, ctx: StepContext) -> LayerRef | None:
        from mason.sandbox.users import resolve_owner   # when the step runs: a cached one does not

        text = self.history(ins, ctx)
        path = ctx.config.set_workdir(ins.path)
        with ctx.layers.step(ctx.layers.layers) as fs:
            try:
                resolve_inroot(str(fs.root), path)
                exists = (fs.root / path.lstrip("/")).is_dir()
            except MasonError:
                exists = False
            if not exists:
                user = resolve_owner(fs.root, ctx.config.user) if ctx.config.user else None
                make_dirs(str(fs.root), path, uid=user[0] if user else 0, gid=user[1] if user else 0)
        return ctx.layers.commit(fs, text, empty_layer=path.strip("/") != "")
