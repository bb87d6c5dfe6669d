"""Run a build: Dockerfile + context in, image out. ``run_build`` is the entry point.

One ``Build`` object per build holds every piece of mutable state (stage results, the work
dir, the runner); nothing lives at module level, so any number of builds can run in one
process, one after another or at once, and never see each other.

Stages are values: a stage result is its list of ``LayerRef`` and its config. ``FROM
<stage>`` and ``COPY --from=<stage>`` read the result of *this* build's stage; there is no
shared directory a previous build could have left files in (Kaniko #1829).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mason.cache.basecache import BaseImageCache
from mason.dockerfile import parse_dockerfile, plan_stages
from mason.dockerfile.stages import Stage, StagePlan
from mason.cancel import CancelToken
from mason.errors import BuildError, ImageError, MasonError, NotSupportedError, UsageError
from mason.executor import events as ev
from mason.executor.baseplatform import check_single_platform, with_hint
from mason.executor.singlesnapshot import squash_stage
from mason.executor.buildcache import BuildCache
from mason.executor.directives import apply_checks, check_syntax
from mason.context.confined import read_text
from mason.context.ignore import load_ignore
from mason.executor.layerstore import LayerStore
from mason.executor.options import BuildOptions
from mason.executor.outputs import Output, write_outputs
from mason.executor.preflight import PushPreflight
from mason.executor.pushcheck import check_cache_repo
from mason.executor.registryaccess import pull_routes, registry_options, same_both_ways
from mason.executor.rootfs import OverlayStrategy, WalkStrategy
from mason.executor.settings import Settings, SnapshotMode, parse_settings
from mason.executor.skeletons import Skeletons
from mason.executor.stagebuilder import BuildSources, StageBuilder, StageServices, format_platform
from mason.executor.stagelayers import Strategy
from mason.executor.stagerun import run_stages
from mason.executor.stagestate import StageState, StepRecord
from mason.executor.workdir import WorkDir
from mason.fsops import SourceTree
from mason.tarfs.extract import ExtractLimits
from mason.image.assemble import build_image
from mason.image.location import open_source, parse_location
from mason.image.view import Image, ImageIndex
from mason.oci.platform import Platform, host_platform
from mason.oci.reference import parse_reference

__all__ = ["Build", "BuildResult", "StageState", "StepRecord", "format_platform", "run_build"]


@dataclass
class BuildResult:
    """What a build made: the image, where it was pushed, each step's record."""

    image_digest: str
    config_digest: str
    manifest: bytes
    config: bytes
    pushed: list[tuple[str, str]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    isolation: str = ""


def run_build(options: BuildOptions, *, reporter=None, env: Mapping[str, str] | None = None,
              registry=None, cancel: CancelToken | None = None) -> BuildResult:
    """Build the image ``options`` describes and write it to every requested output.

    ``env`` is the process environment as a mapping (credentials, ``SOURCE_DATE_EPOCH``);
    ``registry`` a ``mason.registry.RegistryClient`` (made from ``env`` when None).
    ``cancel``: a token the caller sets to stop the build (the CLI's signal handler): the
    build's registry transfers in flight are cut at once (``mason.cancel``).
    Digest files (``--digest-file`` …) are the caller's to write from the result, after a
    successful push (``mason.cli.digest_files``).
    """
    reporter = reporter or ev.NullReporter()
    env = dict(env or {})
    settings = parse_settings(options, env)     # every user error in the options, before any work
    with WorkDir(options.work_root, scratch_fs=options.scratch_fs) as work:
        build = Build(settings, work, reporter=reporter, env=env, registry=registry, cancel=cancel)
        try:
            return build.run()
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BuildError(f"no space left in the work directory {work.root}: {exc.strerror}",
                                 hint="free space there or point --work-dir at a larger disk") from exc
            raise


def default_dockerfile(context: Path) -> Path:
    """``<context>/Dockerfile``, or ``<context>/dockerfile`` when only that exists (BuildKit)."""
    upper = context / "Dockerfile"
    return context / "dockerfile" if not upper.exists() and (context / "dockerfile").is_file() else upper


class Build:
    """One build: its collaborators, made on first use, and the stage results."""

    def __init__(self, settings: Settings, work: WorkDir, *, reporter: ev.Reporter, env: Mapping[str, str],
                 registry: Any = None, cancel: CancelToken | None = None):
        options = settings.options
        self.settings = settings
        self.options = options
        self.platform: Platform = settings.platform
        self.platform_text = format_platform(settings.platform)
        self.work = work
        self.reporter = reporter
        self.env = env
        self._registry = registry
        self._injected = registry
        self._push_registry = None
        # Stages may run on worker threads (mason.executor.stagerun): a stage's result is written
        # by the scheduling thread once it finished, before any stage reading it starts; step
        # records are kept per stage and read back in stage order, whatever finished first.
        self.results: dict[int, StageState] = {}
        self._records: dict[int, list[StepRecord]] = {}
        # set when a stage failed or the build is stopping; setting it cuts downloads in flight
        self.cancel = cancel if cancel is not None else CancelToken()
        self._lazy = threading.RLock()     # one isolation probe, one client, one runner
        self._pulls: dict[tuple[str, str], threading.Lock] = {}
        self._runner: Any = None
        self._images: dict[tuple[str, str], Image] = {}  # (reference, platform) -> view
        store_root = Path(options.cache_dir) / "layers" if options.cache_dir else work.sub("layers")
        limits = ExtractLimits(max_entries=options.max_layer_entries, entries_hint=(
            f"raise --max-layer-entries (now {options.max_layer_entries}) if the layer is genuine"))
        self.store = LayerStore(store_root, mounts=(lambda: work.sub("mounts")) if options.layer_images else None,
                                limits=limits)
        self.skeletons = Skeletons(lambda: work.sub("skeletons"), self.cancel, limits=limits)
        self.started = time.monotonic()
        self._fs: Strategy | None = None
        self.isolation: Any = None         # mason.sandbox.capabilities.Isolation, once probed
        self.cache: BuildCache | None = None   # with --cache=true
        self._routes: Any = None           # mason.registry.mirrors.PullRoutes, from --registry-mirror/-map
        self._tls: Any = None              # the TlsTrust made when the caller gave none
        self._preflight: PushPreflight | None = None   # the push-permission checks, once started
        self._cache_down: str | None = None  # the pre-flight found the cache repository down

    # --- collaborators ---------------------------------------------------------------------
    @property
    def registry(self):
        """The client for pulls (base images, COPY --from images)."""
        if self._registry is None:
            with self._lazy:
                if self._registry is None:
                    self._registry = self._client(push=False)
        return self._registry

    @property
    def push_registry(self):
        """The client for destinations (Kaniko's push-side TLS/HTTP switches); the pull client
        when those agree with the pull side's (``registryaccess.same_both_ways``)."""
        if self._push_registry is None:
            with self._lazy:
                if self._push_registry is None:
                    self._push_registry = self._injected or (
                        self.registry if same_both_ways(self.options.registry) else self._client(push=True))
        return self._push_registry

    def _client(self, *, push: bool) -> Any:
        # Local: requests and the TLS stack load only when a registry is actually used.
        from mason.registry import RegistryClient, default_keychain

        return RegistryClient(keychain=default_keychain(self.env),
                              options=registry_options(self.options.registry, push=push,
                                                       trust=self.tls), cancel=self.cancel)

    @property
    def tls(self):
        """The build's ``TlsTrust`` (the system roots when the caller gave none)."""
        if self.options.tls is None:
            with self._lazy:
                if self._tls is None:
                    from mason.tls import TlsTrust  # ssl loads only when something fetches

                    self._tls = TlsTrust.of()
            return self._tls
        return self.options.tls

    def runner(self):
        """The sandbox runner; with parallel stages, every RUN it starts is killed once
        ``cancel`` is set (a sibling stage failed)."""
        if self._runner is None:
            # Local: the sandbox (seccomp, namespaces) loads only when a RUN needs it.
            from mason.sandbox.runner import make_runner

            with self._lazy:
                if self._runner is None:
                    if self.isolation is None:
                        self._choose_isolation()
                    runner = make_runner(self.isolation, self.work.sub("sandbox"))
                    # One stage at a time: nothing can cancel a RUN but a signal, as before.
                    self._runner = _CancellingRunner(runner, self.cancel) if self.stage_jobs() > 1 else runner
        return self._runner

    def _choose_isolation(self) -> None:
        with self._lazy:
            if self._fs is None:
                self._probe_isolation()

    def _probe_isolation(self) -> None:
        # Local: the capability probe pulls in the sandbox; an all-hits build never probes.
        from mason.sandbox.capabilities import choose, detect

        assert self.work.data is not None, "the work dir is open before isolation is probed"
        isolation = choose(detect(self.work.data), self.options.isolation, force=self.options.force)
        self._await_preflight()            # nothing runs, no root is replaced, before push access is known
        if isolation.level == "host-root":
            self._open_host_root(isolation)
            return
        if isolation.container is not None:
            from mason.snapshot.pristine import busy   # only in containers: host-root's state

            holder = busy()
            if holder is not None:
                raise BuildError(f"a host-root build (pid {holder}) owns this container's / right now",
                                 hint="run the builds one after another")
        mode = self.settings.snapshot_mode
        if mode is SnapshotMode.OVERLAY and not isolation.overlay:
            raise NotSupportedError(f"--snapshot-mode=overlay needs overlayfs mounts: {isolation.reason}",
                                    hint="use --snapshot-mode=walk (or auto)")
        fs: Strategy
        if mode is SnapshotMode.OVERLAY or (mode is SnapshotMode.AUTO and isolation.overlay):
            fs = OverlayStrategy(self.store, self.work.sub("steps"))
        else:
            fs = WalkStrategy(self.work.sub("roots"), limits=self.store.limits)
        self.isolation = isolation
        self._fs = fs                      # published last: ``fs`` reads it without the lock
        self.reporter.emit(ev.Info(f"isolation: {isolation.level} ({isolation.reason}); "
                                   f"snapshots: {fs.name}"))
        work = self.work.scratch_refused
        files = "own ext4 scratch filesystem" if work is None else f"plain work directory ({work})"
        if fs.name == "overlay":
            lowers = "EROFS images" if self.store.images() else f"directories ({self.store.images_refused})"
            files += f"; lower layers: {lowers}"
        self.reporter.emit(ev.Info(f"work files: {files}"))

    def _open_host_root(self, isolation) -> None:
        """Host-root isolation (mason.executor.hostrootfs): / is the build root, locked, verified."""
        # Local: only host-root builds need the pristine-state machinery.
        from mason.executor.hostrootfs import HostRootStrategy, kept_paths_for

        if self.settings.snapshot_mode is SnapshotMode.OVERLAY:
            raise NotSupportedError("--snapshot-mode=overlay needs overlayfs mounts; host-root isolation walks /")
        assert self.work.path is not None, "the work dir is open before isolation is probed"
        kept = kept_paths_for(self.options, self.work.path, isolation.runtime, self.env)
        _ = self.registry                  # CA files are read now: / is about to be replaced
        if self.options.destinations and not self.options.no_push:
            _ = self.push_registry
        fs = HostRootStrategy(self.store, self.work.sub("roots"), kept, warn=self._warn)
        done = fs.open(self.work.path.name)
        self.isolation = isolation
        self._fs = fs
        self.reporter.emit(ev.Info(f"isolation: host-root ({isolation.reason}); snapshots: walk of /"))
        self.reporter.emit(ev.Info(f"host-root: {done}; kept out of the build: {kept.describe()}"))

    def close_fs(self) -> None:
        """Host-root: / back to pristine and verified (raises when it is not); else nothing."""
        close = getattr(self._fs, "close", None)
        if close is not None:
            close()

    @property
    def fs(self) -> Strategy:
        """The snapshot strategy, chosen on first use: a build whose every step is a cache
        hit never needs a filesystem, so it skips the isolation probe too."""
        if self._fs is None:
            self._choose_isolation()
        assert self._fs is not None
        return self._fs

    @property
    def records(self) -> list[StepRecord]:
        """Every step's record, stage by stage in build order (not in finishing order)."""
        return [r for stage in list(self._records.values()) for r in stage]

    def stage_records(self, index: int) -> list[StepRecord]:
        """The list a stage appends its step records to (its own: no lock needed)."""
        return self._records.setdefault(index, [])

    @property
    def fs_chosen(self) -> bool:
        return self._fs is not None

    # --- the build -------------------------------------------------------------------------
    def run(self) -> BuildResult:
        opts = self.options
        self.pull_routes()                 # a malformed --registry-mirror/-map fails before anything runs
        text, name = self._dockerfile_text()
        dockerfile = parse_dockerfile(text, file=name)
        host = format_platform(host_platform())
        plan = plan_stages(dockerfile, build_args=dict(opts.build_args), target=opts.target,
                           target_platform=self.platform_text, build_platform=host)
        directives = dict(dockerfile.directives)
        check_syntax(directives, name, text)
        for warning in apply_checks(directives, plan.warnings, name):
            self.reporter.emit(ev.Warn(str(warning)))
        self.plan = plan
        _check_no_cache_stages(opts.no_cache_stages, plan)
        self._check_emulation(plan)
        self.ignore = load_ignore(Path(opts.context_dir), opts.dockerfile)
        self.context = SourceTree(str(opts.context_dir), self.ignore)
        self._preflight = self._start_push_permission_check()
        try:
            if opts.cache:
                self.cache = BuildCache(self.settings, push_client=lambda: self.push_registry,
                                        reporter=self.reporter)
                self.cache.gate = self._await_preflight     # no cache push before the check passed
                if self._cache_down is not None:
                    self.cache.unavailable(self._cache_down)
            if not opts.cache or _host_root_possible(opts):
                self._choose_isolation()       # host-root: the root is verified before anything runs
            return self._build_and_write(plan)
        except Exception:
            # An interrupt is not held up by a check still running; any other failure
            # gives way to the pre-flight's error, as when the check ran first.
            failed = self._preflight.failure() if self._preflight is not None else None
            if failed is not None:
                raise failed from None
            raise
        finally:
            try:
                if self.cache is not None:
                    self.cache.close()     # no lookup or cache push outlives the build
                self.close_fs()
            finally:
                finish = getattr(self._fs, "finish", None)
                if finish is not None:     # host-root: its trash removed (it overlapped the push), / released
                    finish()

    def _build_and_write(self, plan: StagePlan) -> BuildResult:
        opts = self.options
        if opts.skip_unused_stages:
            stages = plan.needed()
        else:
            # Kaniko's default: every stage up to the target, in file order (deps come first).
            stages = [s for s in plan.stages if s.index <= plan.target]
        for stage in stages:           # records and cache report come out in this order
            self.stage_records(stage.index)
            if self.cache is not None:
                self.cache.stage_steps(stage.index)

        def done(stage: Stage, state: StageState) -> None:
            self.results[stage.index] = state

        services = self._stage_services(plan)
        run_stages(stages, lambda stage: self._run_stage(services, stage), jobs=self.stage_jobs(),
                   cancel=self.cancel, done=done)
        # Every stage is built: the step dirs (overlay uppers, walk roots) are dead; layers
        # live on as blobs. Their removal overlaps the push instead of following it.
        self.close_fs()                # host-root: / pristine and verified before anything is written
        for sub in ("steps", "roots", "skeletons"):
            self.work.remove_early(sub)
        self.work.check()              # nothing is written from a scratch fs that lost writes
        final = self.results[plan.target]
        config = final.config
        if opts.labels:
            config.add_labels(opts.labels.items())
        config_doc = config.finish(self.settings.created(), from_history=not self.settings.fixed_time)
        image = build_image(config_doc, final.layers, docker_media=final.docker_media)
        if self.cache is not None:
            self.cache.store_record()  # in the background, alongside the image push
        self._await_preflight()
        pushed = write_outputs(image, self._outputs(), warn=self._warn)
        for target, digest in pushed:
            if target in opts.destinations:
                self.reporter.emit(ev.Pushed(target, digest))
        if self.cache is not None:
            self.cache.finish()        # cache pushes ran alongside; the image never waited for them
        seconds = time.monotonic() - self.started
        self.reporter.emit(ev.BuildFinished(image.digest, image.config_descriptor.digest, seconds))
        return BuildResult(image.digest, image.config_descriptor.digest, image.manifest_bytes,
                           image.config_bytes, [p for p in pushed if p[0] in opts.destinations],
                           self.records,
                           self.isolation.level if self.isolation else "none needed (every step was a cache hit)")

    def _run_stage(self, services: StageServices, stage: Stage) -> StageState:
        builder = StageBuilder(services, stage)
        state = builder.run()
        if self.options.single_snapshot and stage.index == services.plan.target:
            squash_stage(builder)
        return state

    def _stage_services(self, plan: StagePlan) -> StageServices:
        return StageServices(
            settings=self.settings, plan=plan, results=self.results,
            sources=BuildSources(self.context, plan, self.results, self.pull),
            pull=self.pull, strategy=lambda: self.fs, strategy_chosen=lambda: self._fs, store=self.store,
            skeletons=self.skeletons, scratch=self.work.sub, runner=self.runner, cache=self.cache,
            reporter=self.reporter, cancel=self.cancel, records=self.stage_records)

    def _check_emulation(self, plan: StagePlan) -> None:
        """A RUN in a stage for a foreign platform needs qemu-user: refused now, before any work,
        when binfmt_misc has no usable interpreter (``mason.sandbox.binfmt``)."""
        # Local, as the other collaborators: loaded only when a build runs
        from mason.executor.emulation import run_platforms
        from mason.sandbox.binfmt import DEFAULT_DIR, require_emulation

        wanted = run_platforms(plan, self.platform, skip_unused=self.options.skip_unused_stages)
        if wanted:
            require_emulation(wanted, self.options.binfmt_dir or DEFAULT_DIR)

    def _start_push_permission_check(self) -> PushPreflight | None:
        """Kaniko checks push access before building, so a 20-minute build does not end in
        DENIED; done here for every destination and, unlike Kaniko, for the cache repository
        the build will push layers to, concurrently with each other and with base resolution
        and cache lookups (``mason.executor.preflight``: what waits for them)."""
        opts = self.options
        if not opts.check_push_permission:
            return None
        refs = {} if opts.no_push else {parse_reference(d).name: parse_reference(d) for d in opts.destinations}
        checks = [lambda r=r: self.push_registry.check_push_permission(r) for r in refs.values()]
        if opts.cache and not opts.no_push_cache:
            checks.append(self._check_cache_repo)
        if not checks:
            return None
        return PushPreflight(checks, warn=lambda message: self.reporter.emit(ev.Warn(message)), cancel=self.cancel)

    def _check_cache_repo(self) -> str | None:
        warning = check_cache_repo(self.options, lambda: self.push_registry)
        if warning is not None:            # down: no lookup or cache push of this build tries it again
            self._cache_down = warning
            if self.cache is not None:
                self.cache.unavailable(warning)
        return warning

    def _await_preflight(self) -> None:
        """Before anything is changed or pushed: the push-permission checks passed (or raise)."""
        if self._preflight is not None:
            self._preflight.wait()

    def stage_jobs(self) -> int:
        """How many stages may build at once: ``stage_jobs``, or the CPUs this process has."""
        if self.isolation is not None and self.isolation.level == "host-root":
            return 1                       # one root: stages one after another
        return self.settings.stage_jobs

    def _dockerfile_text(self) -> tuple[str, str]:
        opts = self.options
        if opts.dockerfile_text is not None:
            return opts.dockerfile_text, str(opts.dockerfile or "Dockerfile")
        path = Path(opts.dockerfile) if opts.dockerfile else default_dockerfile(Path(opts.context_dir))
        text = read_text(str(opts.context_dir), str(path), "Dockerfile")
        if text is None:
            raise UsageError(f"Dockerfile not found: {path}",
                             hint="pass --dockerfile, relative to the context or absolute")
        return text, str(path)

    def _outputs(self) -> list[Output]:
        # Local: each sink loads only for the outputs this build writes (remote: requests).
        from mason.image.remote import RemoteSink

        opts = self.options
        outs = []
        if not opts.no_push:
            access = opts.registry
            ignore_immutable = bool(access and access.push_ignore_immutable_tag_errors)
            retries = access.push_retry if access else 0
            for dest in opts.destinations:
                ref = parse_reference(dest)
                outs.append(Output("registry", dest,
                                   lambda ref=ref: RemoteSink(self.push_registry, ref,
                                                              ignore_immutable_tag=ignore_immutable,
                                                              warn=self._warn),
                                   retries=retries))
        if opts.oci_layout_path:
            from mason.image.layout import LayoutSink  # only for --oci-layout-path

            path = str(opts.oci_layout_path)
            tag = parse_reference(opts.destinations[0]).tag if opts.destinations else "latest"
            outs.append(Output("oci", path, lambda: LayoutSink(path, tag)))
        if opts.tar_path:
            from mason.image.docker_archive import DockerArchiveSink  # tarfile: only for --tar-path

            path = str(opts.tar_path)
            name = opts.destinations[0] if opts.destinations else None
            outs.append(Output("docker-archive", path, lambda: DockerArchiveSink(path, name)))
        return outs

    # --- images -----------------------------------------------------------------------------
    def pull(self, text: str, platform: Platform | None = None) -> Image:
        """The base image named ``text`` (registry reference, ``oci:DIR[:REF]``,
        ``docker-archive:FILE``) for ``platform`` (default: the build's), as an Image view."""
        platform = platform or self.platform
        memo = (text, format_platform(platform))
        if memo in self._images:
            return self._images[memo]
        with self._lazy:
            lock = self._pulls.setdefault(memo, threading.Lock())
        with lock:                         # stages pulling the same base at once resolve it once
            if memo in self._images:
                return self._images[memo]
            return self._pull(text, platform, memo)

    def _pull(self, text: str, platform: Platform, memo: tuple[str, str]) -> Image:
        try:
            location = parse_location(text)
        except MasonError as exc:
            raise BuildError(f"invalid base image {text!r}: {exc}", hint=exc.hint) from None
        if location.kind in ("oci", "docker-archive") and not Path(location.path).is_absolute():
            # Relative local bases are relative to the context, never to the process's cwd.
            location = type(location)(location.kind, str(Path(self.options.context_dir) / location.path),
                                      location.name)
        view = self._from_base_cache(location, platform)
        if view is not None:
            self._images[memo] = view
            return view
        self.reporter.emit(ev.Info(f"resolving base image {text}"))
        access = self.options.registry
        view = open_source(location, lambda: self.registry, platform, routes=self.pull_routes(),
                           retries=access.image_download_retry if access else 0,
                           info=lambda m: self.reporter.emit(ev.Info(m)), warn=self._warn)
        if isinstance(view, ImageIndex):
            try:
                view = view.select(platform)
            except ImageError as exc:
                raise with_hint(exc, text) from None
        else:
            explicit = self.options.platform is not None or format_platform(platform) != self.platform_text
            check_single_platform(view, platform, base=text, explicit=explicit, warn=self._warn)
        self._images[memo] = view
        return view

    def pull_routes(self) -> Any:
        """Where pulls go (--registry-mirror, --registry-map): never used for pushes."""
        if self._routes is None:
            with self._lazy:
                if self._routes is None:
                    self._routes = pull_routes(self.options.registry)
        return self._routes

    def _warn(self, message: str) -> None:
        self.reporter.emit(ev.Warn(message))

    def _from_base_cache(self, location: Any, platform: Platform) -> Image | None:
        """A ``FROM …@sha256:`` base that ``mason warm`` put in --cache-dir: no registry needed."""
        opts = self.options
        if location.kind != "registry" or not location.reference.digest or not opts.cache_dir:
            return None
        view = BaseImageCache(Path(opts.cache_dir)).find(location.reference.digest, platform,
                                                         ttl_seconds=opts.cache_ttl_seconds)
        if view is not None:
            self.reporter.emit(ev.Info(f"base image {location.reference} found in --cache-dir {opts.cache_dir}"))
        return view


class _CancellingRunner:
    """A sandbox runner whose RUNs are killed when the build's ``cancel`` is set (a sibling
    stage failed, the build is stopping): the runner's own cancel support, always wired."""

    def __init__(self, runner, cancel: threading.Event):
        self._runner = runner
        self._cancel = cancel
        self.name = getattr(runner, "name", type(runner).__name__)

    def run(self, spec, output, *, cancel: threading.Event | None = None) -> int:
        if self._cancel.is_set():
            raise BuildError("RUN not started: the build is stopping")
        return self._runner.run(spec, output, cancel=cancel or self._cancel)

    def __getattr__(self, name):
        return getattr(self._runner, name)


def _host_root_possible(opts) -> bool:
    """Whether this build may end up in host-root isolation (then the probe cannot wait).

    Only the files mapped now are judged: one of them in a system directory rules host-root
    out. The full answer (every imported module, the libraries a build loads lazily) is
    ``detect``'s, worked out while its probe runs; when only that finds a loose file, an
    all-cached build has probed for nothing, which costs one short child process."""
    if opts.isolation == "host-root":
        return True
    if opts.isolation != "auto":
        return False
    # local: the sandbox loads lazily
    from mason.sandbox.container import container_hint, mapped_files, runtime_roots

    if os.geteuid() != 0 or container_hint() is None:
        return False
    return not runtime_roots(mapped_files())[1]


def _check_no_cache_stages(names: frozenset[str], plan) -> None:
    """Every ``--no-cache-filter`` stage exists: a misspelt one would silently use the cache."""
    known = {s.name.lower() for s in plan.stages if s.name} | {str(s.index) for s in plan.stages}
    unknown = sorted(n for n in names if n.lower() not in known)
    if unknown:
        raise UsageError(f"--no-cache-filter: no stage named {', '.join(unknown)}",
                         hint="stages: " + ", ".join(s.name or str(s.index) for s in plan.stages))
