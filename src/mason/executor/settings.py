"""A build's options as typed values, parsed once before anything runs.

``BuildOptions`` is what the CLI and ``mason bake`` were asked (strings where the flags are
strings); ``Settings`` is what the executor works with: enums, numbers, the platform, the
cache repository, the one reading of ``SOURCE_DATE_EPOCH``. Every user error in the options
is raised by ``parse_settings``, before the work dir exists, so a bad value never surfaces
as an internal error from deep inside a step, and nothing deeper re-parses a string.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Mapping

from mason.errors import NotSupportedError, UsageError
from mason.executor.options import BuildOptions
from mason.executor.stagerun import default_jobs
from mason.oci.platform import Platform, host_platform, parse_platform
from mason.oci.reference import parse_reference
from mason.tarfs.compress import Compression
from mason.tarfs.entries import LayerOptions


class SnapshotMode(enum.Enum):
    AUTO = "auto"
    OVERLAY = "overlay"
    WALK = "walk"


_COMPRESSIONS = {"gzip": Compression.GZIP, "zstd": Compression.ZSTD}


@dataclass(frozen=True)
class Settings:
    """The parsed options of one build; ``options`` keeps the fields that need no parsing."""

    options: BuildOptions
    snapshot_mode: SnapshotMode
    compression: Compression
    source_date_epoch: int | None      # --source-date-epoch, else SOURCE_DATE_EPOCH (build arg or variable)
    stage_jobs: int                    # stages built at once (>= 1)
    platform: Platform                 # the target platform
    cache_repo: str | None             # with --cache=true: where entries live
    snapshot_ignores: tuple[str, ...]  # paths left out of every layer

    @property
    def fixed_time(self) -> bool:
        """Every timestamp is the one given (SOURCE_DATE_EPOCH, --reproducible), not a clock's."""
        return self.source_date_epoch is not None or self.options.reproducible

    def created(self) -> str | None:
        """The timestamp for configs and history: fixed when reproducible or given."""
        epoch = self.source_date_epoch
        if self.options.reproducible and epoch is None:
            epoch = 0
        ts = time.gmtime(epoch) if epoch is not None else time.gmtime()
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", ts)

    def layer_options(self, docker_media: bool) -> LayerOptions:
        """How this build writes a layer on a base with Docker (or OCI) media types."""
        if self.compression is Compression.ZSTD and docker_media:
            raise NotSupportedError("zstd layers need OCI media types, but the base image uses Docker's",
                                    hint="use --compression=gzip, or an OCI base image")
        level, epoch = self.options.compression_level, self.source_date_epoch
        # A build with fixed times promises digests that depend on its inputs only, so its
        # gzip encodings are checked (tarfs.gzipblocks).
        if self.options.reproducible:
            return LayerOptions(compression=self.compression, level=level, verify_compression=True,
                                fixed_mtime=0 if epoch is None else epoch)
        return LayerOptions(compression=self.compression, level=level, mtime_clamp=epoch,
                            verify_compression=epoch is not None)


def parse_settings(options: BuildOptions, env: Mapping[str, str]) -> Settings:
    """Check and type every option of ``options``; ``env`` is the process environment."""
    opts = options
    if opts.stage_jobs is not None and opts.stage_jobs < 1:
        raise UsageError(f"stage jobs must be at least 1 (got {opts.stage_jobs}); "
                         f"leave it unset for one per CPU")
    if opts.cache_report and not opts.cache:
        raise UsageError("--cache-report needs --cache=true")
    if not opts.destinations and not opts.no_push and not opts.tar_path and not opts.oci_layout_path:
        raise UsageError("nothing to write: give --destination, --tar-path or --oci-layout-path (or --no-push)")
    try:
        mode = SnapshotMode(opts.snapshot_mode)
    except ValueError:
        raise UsageError(f"unknown snapshot mode {opts.snapshot_mode!r}: use auto, overlay or walk") from None
    compression = _COMPRESSIONS.get(opts.compression)
    if compression is None:
        raise UsageError(f"unknown compression {opts.compression!r}: use gzip or zstd")
    return Settings(options=opts, snapshot_mode=mode, compression=compression,
                    source_date_epoch=_epoch(opts, env), stage_jobs=opts.stage_jobs or default_jobs(),
                    platform=parse_platform(opts.platform) if opts.platform else host_platform(),
                    cache_repo=default_cache_repo(opts) if opts.cache else None,
                    snapshot_ignores=opts.snapshot_ignores())


def _epoch(opts: BuildOptions, env: Mapping[str, str]) -> int | None:
    """The one place ``SOURCE_DATE_EPOCH`` is read: the option, else the build argument (how
    BuildKit's frontend takes it: ``--build-arg SOURCE_DATE_EPOCH=…``), else the variable."""
    if opts.source_date_epoch is not None:
        return opts.source_date_epoch
    text = opts.build_args.get("SOURCE_DATE_EPOCH", env.get("SOURCE_DATE_EPOCH"))
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"SOURCE_DATE_EPOCH={text!r} is not a number",
                         hint="set it to a Unix time in seconds (e.g. $(git log -1 --format=%ct)), "
                              "or unset it") from None


def default_cache_repo(options: BuildOptions) -> str:
    """Kaniko's default: ``<repository of the first destination>/cache``."""
    if options.cache_repo:
        return options.cache_repo
    if not options.destinations:
        raise UsageError("--cache=true needs a cache repository: give --cache-repo (a repository, or "
                         "oci:/path for a local layout) or a --destination to derive it from")
    return parse_reference(options.destinations[0]).name + "/cache"
