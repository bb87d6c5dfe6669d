"""Building one stage: start from its base, then one instruction after another.

Metadata instructions change the ``StageConfig``; filesystem instructions (RUN, COPY, ADD,
WORKDIR) run on a step root from the build's snapshot strategy and become a layer when they
changed something. Every field of an instruction is either acted on or refused here.
"""

from __future__ import annotations

import time

from mason.executor import events as ev
from mason.executor.executor import StageState, StepRecord, format_platform
from mason.executor.layers import LayerRef, layer_refs_of
from mason.executor.stageconfig import StageConfig
from mason.cache.keys import chain_start
from mason.dockerfile import instructions as di
from mason.errors import BuildError, MasonError, NotSupportedError
from mason.oci import mediatypes as mt
from mason.oci.descriptor import Descriptor


class StageBuilder:
    def __init__(self, build, stage):
        self.build = build
        self.stage = stage
        self.state: StageState | None = None
        self._step = 0
        # this stage's layers written from sources: (ref, upper dir, recorded paths); see directcopy
        self.direct_layers: list[tuple[LayerRef, object, frozenset[str]]] = []
        self._fs_after: list[bool] | None = None

    # --- base ------------------------------------------------------------------------------
    def _start(self) -> tuple[StageState, list[str]]:
        stage, build = self.stage, self.build
        plat = build.platform
        if stage.platform:
            # FROM --platform=…: this stage's base (and a scratch config) for that platform.
            from mason.oci.platform import parse_platform

            try:
                plat = parse_platform(stage.platform)
            except MasonError as exc:
                raise BuildError(f"FROM --platform={stage.platform}: {exc}") from None
        key = None
        if stage.base_stage is not None:
            parent = build.results[stage.base_stage]
            onbuild = list(parent.config.config.get("OnBuild") or [])
            config = StageConfig(parent.config.snapshot())
            layers = list(parent.layers)
            state = StageState(stage, layers, config, parent.docker_media, built_locally=parent.built_locally)
            if build.fs_chosen and hasattr(build.fs, "adopt"):
                build.fs.adopt(layers, parent.layers)
            base_text = f"stage {parent.stage.id}"
            if build.cache is not None:
                # A FROM-only stage still has a key: its base's (Kaniko #1833).
                key = chain_start(platform=build.platform_text, stage_key=parent.cache_key)
        elif stage.base.lower() == "scratch":
            config = StageConfig(None, os_name=plat.os, architecture=plat.architecture, variant=plat.variant)
            state, onbuild, base_text = StageState(stage, [], config, False), [], "scratch"
            if build.cache is not None:
                key = chain_start(platform=format_platform(plat), scratch=True)
        else:
            image = build.pull(stage.base, plat)
            data = dict(image.config.data)
            onbuild = list((data.get("config") or {}).get("OnBuild") or [])
            config = StageConfig(data)
            docker = image.media_type == mt.DOCKER_MANIFEST
            state = StageState(stage, _stoppable(layer_refs_of(image), build.cancel), config, docker)
            base_text = f"{stage.base}@{image.digest}"
            if build.cache is not None:
                key = chain_start(platform=build.platform_text, base_digest=image.digest)
        state.cache_key = key
        config.ensure_default_path()
        build.reporter.emit(ev.StageStarted(stage.id, base_text))
        return state, onbuild

    def run(self) -> StageState:
        from mason.dockerfile import onbuild_instructions

        state, triggers = self._start()
        self.state = state
        state.scope = self.build.plan.scope(self.stage, base_env=state.config.env)
        steps = onbuild_instructions(triggers, image=self.stage.base) if triggers else []
        expanded = []
        scope = state.scope
        for instruction in [*steps, *self.stage.instructions]:
            try:
                done, after = scope.apply(instruction)
            except MasonError as exc:
                locate(exc, instruction)
                raise
            expanded.append((instruction, done, scope, after))
            scope = after
        # Whether a step after position k needs the stage's whole filesystem (see skeletons).
        self._fs_after = [False] * len(expanded)
        for k in range(len(expanded) - 2, -1, -1):
            self._fs_after[k] = self._fs_after[k + 1] or isinstance(expanded[k + 1][1], (di.Run, di.Workdir))
        cache = self.build.cache
        plans = (cache.plan_stage(self, [(i, e, s) for i, e, s, _ in expanded], state.cache_key)
                 if cache is not None else [None] * len(expanded))
        for (instruction, done, _, after), planned in zip(expanded, plans):
            self._dispatch(instruction, done, after, planned)
        return state

    def filesystem_needed_later(self) -> bool:
        """True when a RUN or WORKDIR follows the current step in this stage (it will extract
        every lower layer anyway, so a skeleton now would be extra work)."""
        after = self._fs_after
        return after is None or self._step > len(after) or after[self._step - 1]

    # --- dispatch --------------------------------------------------------------------------
    def _dispatch(self, instruction, expanded, scope_after, planned) -> None:
        state, build = self.state, self.build
        self._step += 1
        loc = f"{instruction.location.file}:{instruction.location.start_line}"
        step_id = f"{self.stage.index + 1}/{self._step}"
        text = " ".join(instruction.original.split()) if instruction.original else instruction.name
        if build.cancel.is_set():
            # A sibling stage failed (or the build is stopping): stop before the next step.
            from mason.executor.stagerun import StageCancelled

            raise StageCancelled(f"{loc}: stage {self.stage.id} stopped: another stage failed")
        record = StepRecord(step_id, text, loc)
        build.stage_records(self.stage.index).append(record)
        build.reporter.emit(ev.StepStarted(step_id, self.stage.id, text, loc))
        started = time.monotonic()
        state.scope = scope_after
        try:
            if planned is None:
                layer = self._execute(expanded, step_id, loc)
            else:
                layer = self._cached_step(expanded, step_id, loc, planned, record)
        except MasonError as exc:
            locate(exc, instruction)
            raise
        record.seconds = time.monotonic() - started
        if layer is not None:
            record.layer_digest, record.layer_size = layer.descriptor.digest, layer.descriptor.size
        if build.cache is not None:
            self._report(expanded, record, planned)
        build.reporter.emit(ev.StepFinished(step_id, record.seconds, record.cache,
                                            record.layer_digest, record.layer_size, record.cache_key))

    def _cached_step(self, ins, step_id: str, loc: str, planned, record: StepRecord) -> LayerRef | None:
        """A layer step with the cache on: reuse the entry for its key, or run it and store it."""
        state, cache = self.state, self.build.cache
        key = cache.key_after(planned, state.cache_key)
        entry = cache.lookups.result(key) if key is not None and planned.cacheable else None
        record.cache_key = key
        if entry is not None:
            record.cache = "hit"
            layer = self._replay(ins, entry, planned.created_by)
        else:
            record.cache = "miss" if key is not None and planned.cacheable else "none"
            layer = self._execute(ins, step_id, loc)
            state.built_locally = True
            cache.store_entry(planned, layer)
        state.cache_key = cache.chain_after(state.cache_key, planned, ins.name, layer)
        return layer

    def _replay(self, ins, entry, created_by: str) -> LayerRef | None:
        """A hit: the step's config effects and history as if it ran, its layer from the cache
        (no directory: downloaded and extracted only if a later step needs the filesystem)."""
        cfg, created = self.state.config, self.build.created()
        if isinstance(ins, di.Workdir):
            cfg.set_workdir(ins.path)
        if entry.layer is None:
            cfg.add_empty_history(created_by, created)
            return None
        ref = LayerRef(entry.diff_id, entry.layer, entry.opener, entry.origin)
        self.state.layers.append(ref)
        cfg.add_layer(entry.diff_id, created_by, created)
        return ref

    def _report(self, ins, record: StepRecord, planned) -> None:
        from mason.cache.report import StepCacheInfo

        info = StepCacheInfo(record.step_id, self.stage.id, record.instruction, record.location, record.cache,
                             record.cache_key)
        if planned is not None:
            info.parent, info.inputs = planned.parent, dict(planned.inputs)
            if planned.record is None:
                info.reason = "not cacheable: its output is known only after it runs (ADD of a URL " \
                              "without --checksum, or of a git repository)"
            elif not planned.cacheable:
                info.reason = ("COPY/ADD layers are cached only with --cache-copy-layers"
                               if isinstance(ins, (di.Copy, di.Add))
                               else "RUN and WORKDIR layers are not cached (--cache-run-layers=false)")
        else:
            info.reason = "changes only the image config"
        self.build.cache.stage_steps(self.stage.index).append(info)

    def _execute(self, ins, step_id: str, loc: str) -> LayerRef | None:
        cfg = self.state.config
        if isinstance(ins, di.Run):
            from mason.executor.runstep import run_step

            return run_step(self, ins, step_id, loc)
        if isinstance(ins, (di.Copy, di.Add)):
            from mason.executor.copystep import copy_step

            return copy_step(self, ins, loc)
        if isinstance(ins, di.Workdir):
            path = cfg.set_workdir(ins.path)
            return self._workdir_layer(path, _history_text(ins))
        apply_config(cfg, ins)
        cfg.add_empty_history(_history_text(ins), self.build.created())
        return None

    # --- layers ----------------------------------------------------------------------------
    def commit(self, fs, created_by: str, deferred=None) -> LayerRef | None:
        """Turn a finished step's changes into a layer (none when nothing changed).

        ``deferred``: a COPY's files recorded instead of written (``mason.executor.directcopy``);
        they join the layer, and the layer then has no directory (extracted when needed)."""
        from mason.tarfs.writer import write_layer

        state, build = self.state, self.build
        changes = _without_ignored(fs.changes, build.options)
        created = build.created()
        extra, directory = (), fs.layer_dir
        if deferred:
            from mason.executor.directcopy import layer_entries, write_into_upper

            extra, dropped = layer_entries(deferred, build.options.snapshot_ignores())
            if dropped or changes != fs.changes:
                write_into_upper(deferred, fs.layer_dir)  # the upper dir must show what was left out
            else:
                directory = None
        if changes.empty and not extra:
            state.config.add_empty_history(created_by, created)
            return None
        blob = write_layer(changes.source_root, changes.paths, whiteouts=changes.whiteouts,
                           opaque_dirs=changes.opaque_dirs, out_dir=build.work.sub("blobs"),
                           options=build.layer_options(state.docker_media), extra_entries=extra)
        desc = Descriptor(blob.media_type(docker=state.docker_media), blob.digest, blob.size)
        path = blob.path
        ref = LayerRef(blob.diff_id, desc, lambda: open(path, "rb"), None,
                       directory=directory, produced_in=fs.produced_in)
        state.layers.append(ref)
        state.config.add_layer(blob.diff_id, created_by, created)
        if deferred and directory is None:
            self.direct_layers.append((ref, fs.layer_dir, frozenset(deferred.files)))
        return ref

    def _workdir_layer(self, path: str, history: str) -> LayerRef | None:
        """BuildKit creates a missing WORKDIR (owned by the current USER) as its own layer."""
        from mason.fsops import make_dirs, resolve_inroot
        from mason.sandbox.users import resolve_owner

        with self.build.fs.step(self.state.layers) as fs:
            try:
                resolve_inroot(str(fs.root), path)
                exists = (fs.root / path.lstrip("/")).is_dir()
            except MasonError:
                exists = False
            if not exists:
                user = resolve_owner(fs.root, self.state.config.user) if self.state.config.user else None
                owner = {"uid": user[0], "gid": user[1]} if user else {}
                make_dirs(str(fs.root), path, **owner)
        return self.commit(fs, history)


def _stoppable(refs: list[LayerRef], cancel) -> list[LayerRef]:
    """Base layers whose blob reads fail once ``cancel`` is set, so a stage extracting its
    base stops within one read when a sibling stage fails (the store drops the partial dir)."""
    from dataclasses import replace

    from mason.executor.layers import CancellableStream
    from mason.executor.stagerun import StageCancelled

    def stopped() -> Exception:
        return StageCancelled("layer extraction stopped: the build is stopping")

    def wrap(opener):
        return lambda: CancellableStream(opener(), cancel, stopped)

    return [replace(ref, opener=wrap(ref.opener)) for ref in refs]


def apply_config(cfg: StageConfig, ins) -> None:
    """The config effect of a metadata-only instruction (also replayed by the cache planner
    on a scratch copy of the config, to know what later steps will see)."""
    if isinstance(ins, di.Label):
        cfg.add_labels((p.key, p.value) for p in ins.pairs)
    elif isinstance(ins, di.Env):
        cfg.set_env((p.key, p.value) for p in ins.pairs)
    elif isinstance(ins, di.Arg):
        pass
    elif isinstance(ins, di.Expose):
        cfg.expose(_ports(ins.ports))
    elif isinstance(ins, di.Volume):
        cfg.add_volumes(ins.paths)
    elif isinstance(ins, di.User):
        cfg.set_user(ins.user)
    elif isinstance(ins, di.Cmd):
        cfg.set_cmd(_command(cfg, ins))
    elif isinstance(ins, di.Entrypoint):
        cfg.set_entrypoint(_command(cfg, ins))
    elif isinstance(ins, di.Shell):
        cfg.set_shell(list(ins.shell))
    elif isinstance(ins, di.StopSignal):
        cfg.set_stopsignal(ins.signal)
    elif isinstance(ins, di.Healthcheck):
        cfg.set_healthcheck(_healthcheck(ins))
    elif isinstance(ins, di.Maintainer):
        cfg.doc["author"] = ins.maintainer
    elif isinstance(ins, di.Onbuild):
        cfg.add_onbuild(ins.expression)
    else:
        raise NotSupportedError(f"instruction {ins.name} is not supported")


def _command(cfg: StageConfig, ins) -> list[str]:
    if ins.prepend_shell:
        return [*cfg.shell, *ins.command]
    return list(ins.command)


def _without_ignored(changes, options):
    """Drop ``--ignore-path`` entries and ``/var/run`` (Kaniko's flags) from a change set."""
    from dataclasses import replace

    ignored = options.snapshot_ignores()
    if not ignored:
        return changes

    def keep(p: str) -> bool:
        return not any(p == i or p.startswith(i + "/") for i in ignored)

    return replace(changes, paths=tuple(p for p in changes.paths if keep(p)),
                   whiteouts=tuple(p for p in changes.whiteouts if keep(p)),
                   opaque_dirs=tuple(p for p in changes.opaque_dirs if keep(p)))


def locate(exc: MasonError, instruction) -> None:
    """Attach the Dockerfile location to an error that does not have one yet."""
    loc = instruction.location
    lines = f"{loc.start_line}-{loc.end_line}" if loc.end_line > loc.start_line else str(loc.start_line)
    where = f"{loc.file}:{lines}"
    if getattr(exc, "line", None) is None and f"{loc.file}:{loc.start_line}" not in exc.message:
        exc.message = f"{where}: {instruction.name}: {exc.message}"
        exc.args = (exc.message,)


def _history_text(ins) -> str:
    text = " ".join(ins.original.split()) if ins.original else ins.name
    return text


def _ports(ports) -> list[str]:
    """``80``, ``53/udp``, ``8000-8002/tcp`` -> ``80/tcp``, ``53/udp``, ``8000/tcp``…"""
    out = []
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


def _healthcheck(ins) -> dict:
    test = list(ins.test)
    if test and test[0].upper() == "NONE":
        return {"Test": ["NONE"]}
    hc: dict = {"Test": test}
    for key, value in (("Interval", ins.interval), ("Timeout", ins.timeout), ("StartPeriod", ins.start_period),
                       ("StartInterval", ins.start_interval), ("Retries", ins.retries)):
        if value:
            hc[key] = value
    return hc
