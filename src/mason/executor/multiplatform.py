"""One build for several platforms: a build per platform, then one image index.

``mason build --platform linux/amd64,linux/arm64`` on one machine. Each platform is an
ordinary build value of its own (``run_build`` with ``platform`` set): its base images are
resolved for that platform from the base's index, TARGETPLATFORM/TARGETARCH are that
platform's, its cache keys start from it, and a RUN for a foreign architecture executes
through qemu-user (refused before any work when binfmt_misc has no interpreter for it; every
platform is checked before the first one builds). Each writes only into a private OCI layout;
once all have succeeded, ``mason.image.combine`` lists them in one OCI index and
``write_outputs`` writes it to every destination, children first and the index last, so no
destination is ever tagged with a partial set of platforms.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Mapping

from mason.dockerfile import parse_dockerfile, plan_stages
from mason.executor import events as ev
from mason.executor.emulation import run_platforms
from mason.executor.executor import BuildResult, run_build
from mason.executor.options import BuildOptions
from mason.executor.outputs import Output, write_outputs
from mason.executor.registryaccess import registry_options
from mason.executor.settings import default_cache_repo, parse_settings
from mason.executor.stagebuilder import format_platform
from mason.image.combine import combine
from mason.image.location import open_source, parse_location
from mason.oci.platform import Platform, host_platform, parse_platform
from mason.oci.reference import parse_reference
from mason.sandbox.binfmt import DEFAULT_DIR, require_emulation


def run_multi_platform(options: BuildOptions, platforms: tuple[str, ...], *, reporter=None,
                       env: Mapping[str, str] | None = None, registry=None,
                       build: Callable[..., BuildResult] = run_build) -> BuildResult:
    """Build ``options`` once per platform and write one index; the result names the index."""
    reporter = reporter or ev.NullReporter()
    env = dict(env or {})
    started = time.monotonic()
    parse_settings(options, env)             # option errors before anything runs
    _check_all_emulators(options, platforms)
    cache_repo = default_cache_repo(options) if options.cache else options.cache_repo
    pusher = _Pusher(options, registry, env)
    if options.check_push_permission and not options.no_push:
        for dest in options.destinations:     # Kaniko's check, before anything is built
            pusher.client().check_push_permission(parse_reference(dest))
    if options.work_root is not None:
        Path(options.work_root).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="mason-platforms-", dir=options.work_root))
    try:
        sources, steps, isolation = [], [], ""
        for i, platform in enumerate(platforms):
            layout = scratch / f"platform-{i}"
            one = dataclasses.replace(
                options, platform=platform, destinations=(), no_push=True, oci_layout_path=layout,
                tar_path=None, digest_file=None, image_name_with_digest_file=None,
                image_name_tag_with_digest_file=None, cache_report=None, cache_repo=cache_repo,
                check_push_permission=options.check_push_permission and i == 0)
            reporter.emit(ev.Info(f"building for {platform} ({i + 1} of {len(platforms)})"))
            result = build(one, reporter=reporter, env=env, registry=registry)
            steps.extend(result.steps)
            isolation = isolation or result.isolation
            view = open_source(parse_location(f"oci:{layout}:latest"), lambda: None)
            sources.append((platform, view))
        index = combine(sources)
        pushed = write_outputs(index, _outputs(options, pusher), warn=lambda m: reporter.emit(ev.Warn(m)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    digest = index.descriptor().digest
    for target, pushed_digest in pushed:
        if target in options.destinations:
            reporter.emit(ev.Pushed(target, pushed_digest))
    reporter.emit(ev.Info(f"image index {digest}: {', '.join(str(d.platform) for d in index.manifests)} "
                          f"({time.monotonic() - started:.1f}s)"))
    return BuildResult(digest, "", index.manifest_bytes, b"",
                       [p for p in pushed if p[0] in options.destinations], steps, isolation)


def _check_all_emulators(options: BuildOptions, platforms: tuple[str, ...]) -> None:
    """Every platform's RUN steps checked before the first platform builds."""
    if options.dockerfile_text is not None:
        text, name = options.dockerfile_text, str(options.dockerfile or "Dockerfile")
    else:
        path = Path(options.dockerfile) if options.dockerfile else Path(options.context_dir) / "Dockerfile"
        try:
            text, name = path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError):
            return        # the first platform's build reports it as every build does
    dockerfile = parse_dockerfile(text, file=name)
    host = format_platform(host_platform())
    wanted: list[Platform] = []
    for platform in platforms:
        target = parse_platform(platform)
        plan = plan_stages(dockerfile, build_args=dict(options.build_args), target=options.target,
                           target_platform=format_platform(target), build_platform=host)
        wanted.extend(p for p in run_platforms(plan, target, skip_unused=options.skip_unused_stages)
                      if p not in wanted)
    require_emulation(wanted, options.binfmt_dir or DEFAULT_DIR)


class _Pusher:
    """The destinations' registry client, made once, on first use (the caller's, if it gave one)."""

    def __init__(self, options: BuildOptions, registry, env: Mapping[str, str]):
        self.options, self._client, self.env = options, registry, env

    def client(self):
        if self._client is None:
            # Local: requests and the TLS stack load only when a destination is pushed to
            from mason.registry import RegistryClient, default_keychain
            from mason.tls import TlsTrust

            self._client = RegistryClient(keychain=default_keychain(self.env),
                                          options=registry_options(self.options.registry, push=True,
                                                                   trust=self.options.tls or TlsTrust.of()))
        return self._client


def _outputs(options: BuildOptions, pusher: _Pusher) -> list[Output]:
    # Local: each sink loads only for the outputs this build writes (as executor._outputs)
    from mason.image.layout import LayoutSink
    from mason.image.remote import RemoteSink

    outs = []
    if not options.no_push:
        access = options.registry
        ignore_immutable = bool(access and access.push_ignore_immutable_tag_errors)
        for dest in options.destinations:
            ref = parse_reference(dest)
            def sink(ref=ref) -> RemoteSink:
                return RemoteSink(pusher.client(), ref, ignore_immutable_tag=ignore_immutable)

            outs.append(Output("registry", dest, sink, retries=access.push_retry if access else 0))
    if options.oci_layout_path:
        path = str(options.oci_layout_path)
        tag = parse_reference(options.destinations[0]).tag if options.destinations else "latest"
        outs.append(Output("oci", path, lambda: LayoutSink(path, tag)))
    return outs
