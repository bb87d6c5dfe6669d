"""Everything a build is asked to do, as one frozen value.

The CLI (Kaniko-compatible flags) and ``mason bake`` both produce a ``BuildOptions``; the
executor reads it and never mutates it. Collaborators with state (registry client, layer
store, logger) are passed to the executor separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class SecretSource:
    """``--secret id=NAME,src=FILE`` or ``--secret id=NAME,env=VAR`` (value resolved by the CLI)."""

    id: str
    value: bytes = field(repr=False)


@dataclass(frozen=True)
class SshSource:
    """``--ssh ID[=SOCKET]``: the ssh agent socket ``RUN --mount=type=ssh,id=ID`` reaches."""

    id: str
    socket: str


@dataclass(frozen=True)
class RegistryAccess:
    """How the build reaches registries, in Kaniko's terms (its flags map one to one).

    Push-side (``insecure``, ``skip_tls_verify``) and pull-side (``*_pull``) switches are kept
    apart as Kaniko keeps them; per-registry lists apply to both directions.
    """

    insecure: bool = False                          # push over plain HTTP
    insecure_pull: bool = False                     # pull over plain HTTP
    insecure_registries: tuple[str, ...] = ()
    skip_tls_verify: bool = False                   # push without TLS verification
    skip_tls_verify_pull: bool = False
    skip_tls_verify_registries: tuple[str, ...] = ()
    ca_certificates: Mapping[str, str] = field(default_factory=dict)              # registry -> CA file
    client_certificates: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # -> (cert, key)
    mirrors: tuple[str, ...] = ()                   # Docker Hub mirrors, tried in order
    registry_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)     # registry -> replacements
    default_registry_fallback: bool = True          # try the original registry after the mirrors
    # Where the fallback to Docker Hub goes; None: Docker Hub itself. No flag sets it: it lets
    # tests stand a local registry in for Docker Hub, which they cannot reach.
    docker_hub: str | None = None
    push_retry: int = 0
    image_download_retry: int = 0
    push_ignore_immutable_tag_errors: bool = False


@dataclass(frozen=True)
class BuildOptions:
    """Everything one build is asked to do (the CLI maps Kaniko's flags to it)."""

    context_dir: Path
    dockerfile: Path | None = None          # None: <context>/Dockerfile
    dockerfile_text: str | None = None      # given directly (stdin, URL already fetched)
    destinations: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    platform: str | None = None             # "os/arch[/variant]"; None: the host's
    binfmt_dir: Path | None = None          # where binfmt_misc is read (None: /proc/sys/fs/binfmt_misc)
    labels: Mapping[str, str] = field(default_factory=dict)
    no_push: bool = False
    tar_path: Path | None = None
    oci_layout_path: Path | None = None
    digest_file: Path | None = None
    image_name_with_digest_file: Path | None = None
    image_name_tag_with_digest_file: Path | None = None
    reproducible: bool = False
    source_date_epoch: int | None = None
    compression: str = "gzip"               # gzip | zstd
    compression_level: int | None = None
    max_layer_entries: int = 2_000_000      # --max-layer-entries: per layer, refused past it
    work_root: Path | None = None           # parent of the build's private work dir
    cache_dir: Path | None = None           # shared extracted-layer store (persistent)
    snapshot_mode: str = "auto"             # auto | overlay | walk
    isolation: str = "auto"                 # auto | namespaces | host-root | chroot
    force: bool = False                     # Kaniko's --force: host-root isolation outside a container
    # BuildKit entitlements granted (--allow): network.host, security.insecure (mason.sandbox.entitlements)
    allow: frozenset[str] = frozenset()
    run_host_loopback: bool = False         # RUN's own network reaches the builder's 127.0.0.1 at 10.0.2.2
    single_snapshot: bool = False
    ignore_paths: tuple[str, ...] = ()
    ignore_var_run: bool = True
    skip_unused_stages: bool = True
    # Stages built at once when independent (--stage-jobs); None: one per CPU. 1 builds them
    # one after another in order, on the calling thread, as before parallel stages existed.
    stage_jobs: int | None = None
    # overlay mode: COPY/ADD layers streamed from the sources, files not created (False: the
    # files are written into the step's overlay and tarred from there, as before)
    direct_copy: bool = True
    # overlay mode: base and cache-hit layers become mounted EROFS images where this process
    # can mount them (mason.erofs), else directories (False: always directories)
    layer_images: bool = True
    # the work dir's contents on a fresh ext4 of the build's own where possible
    # (mason.executor.scratchfs; False: a plain directory under work_root)
    scratch_fs: bool = True
    secrets: tuple[SecretSource, ...] = ()
    ssh: tuple[SshSource, ...] = ()
    # the layer cache
    cache: bool = False
    cache_repo: str | None = None
    cache_ttl_seconds: int = 336 * 3600
    cache_copy_layers: bool = True          # Kaniko defaults to false; our COPY keys are exact
    cache_run_layers: bool = True
    no_push_cache: bool = False
    # --no-cache-filter: stages (names or numbers) whose steps run even on a hit (BuildKit's
    # no-cache=STAGE); what they make is still stored for later builds
    no_cache_stages: frozenset[str] = frozenset()
    cache_report: Path | None = None        # --cache-report FILE: per-step keys, hits, why a miss
    # registries
    registry: RegistryAccess = field(default_factory=RegistryAccess)
    check_push_permission: bool = True     # every destination and the cache repo, before building
    # The CAs every HTTPS connection of the build trusts (registries, ADD <url>, git, https
    # contexts): a mason.tls.TlsTrust made once by the caller; None: the system roots only.
    tls: object | None = field(default=None, compare=False)

    def snapshot_ignores(self) -> tuple[str, ...]:
        """Paths left out of every layer (relative, sorted): ``--ignore-path`` entries, and
        ``/var/run`` unless ``--ignore-var-run=false`` (Kaniko's default: sockets and pid
        files of the build host's services are mounted there in CI runners)."""
        paths = {p.strip("/") for p in self.ignore_paths if p.strip("/")}
        if self.ignore_var_run:
            paths.add("var/run")
        return tuple(sorted(paths))
