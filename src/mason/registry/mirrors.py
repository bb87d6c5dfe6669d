"""Where a pull may go: Kaniko's ``--registry-mirror`` and ``--registry-map``, as an ordered list.

Both only ever redirect *pulls* (base images, ``COPY --from=<image>``, ``RUN --mount from=<image>``,
``mason warm``): a push always goes to the registry its destination names, so the rules
live here, above the registry client, and not in the client (one client serves both).
The layer cache repository (``--cache-repo``) is read and written where it is named, never
through a mirror: reads and writes of one cache must see the same registry.

Order, as Kaniko builds it (``cmd/executor/cmd/root.go`` then ``RetrieveRemoteImage``):

1. the ``--registry-map`` replacements for the reference's registry (flags, then
   ``KANIKO_REGISTRY_MAP``), in the order given;
2. for Docker Hub references only, the ``--registry-mirror`` hosts (flags, then
   ``KANIKO_REGISTRY_MIRROR``): Kaniko appends them to Docker Hub's map entry;
3. the original registry itself, unless ``--skip-default-registry-fallback`` and at least
   one replacement was configured for that registry.

The repository path keeps its full, normalised form: ``busybox`` is
``docker.io/library/busybox``, so a mirror gets ``MIRROR/library/busybox`` (as Kaniko and
containerd ask mirrors for it); a replacement written with a path (``mirror.example/hub``)
prefixes it: ``mirror.example/hub/library/busybox``. Tag and digest are kept, so a
digest-pinned base is verified against the same digest wherever it comes from.

Docker Hub is named ``docker.io``, ``index.docker.io`` or ``registry-1.docker.io`` in map
keys (Kaniko only matches ``index.docker.io``; all three mean the same registry).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from mason.errors import UsageError
from mason.oci.reference import DOCKER_HUB, DOCKER_HUB_ALIASES, Reference

_HOST = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                   r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?\Z")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")

MIRROR, MAPPED, ORIGIN = "registry mirror", "mapped registry", "registry"


@dataclass(frozen=True)
class Replacement:
    """One ``HOST[/path/prefix]`` a pull may be redirected to."""

    host: str
    prefix: str = ""            # repository path prefix, without slashes at either end

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}" if self.prefix else self.host


def parse_replacement(text: str, flag: str) -> Replacement:
    """``HOST[:PORT][/path]`` as given to ``--registry-mirror`` or on the right of ``--registry-map``."""
    value = text.strip()
    if "://" in value:
        raise UsageError(f"{flag} {text!r}: give a registry host, not a URL",
                         hint="drop the scheme; for a plain-HTTP mirror add --insecure-registry HOST "
                              "(or --insecure-pull)")
    host, _, prefix = value.partition("/")
    prefix = prefix.strip("/")
    if not host or not _HOST.match(host):
        raise UsageError(f"{flag} {text!r}: {host!r} is not a registry host (HOST[:PORT][/path])")
    for component in filter(None, prefix.split("/")):
        if not _PATH_COMPONENT.match(component):
            raise UsageError(f"{flag} {text!r}: invalid repository path component {component!r} "
                             "(lower-case letters and digits separated by '.', '_', '__' or '-')")
    return Replacement(host, prefix)


def canonical_registry(name: str, flag: str = "--registry-map") -> str:
    """A map key as a registry name: Docker Hub's aliases become ``docker.io``."""
    key = name.strip()
    if "/" in key or "://" in key or not _HOST.match(key):
        raise UsageError(f"{flag} {name!r}=…: the left side must be a registry host (e.g. index.docker.io, "
                         "gcr.io, registry.example.com:5000), matched against the image's registry only")
    return DOCKER_HUB if key.lower() in DOCKER_HUB_ALIASES else key


@dataclass(frozen=True)
class Candidate:
    """One place to try: the reference to fetch there, and how it was chosen (for the log)."""

    ref: Reference
    via: str                    # MIRROR | MAPPED | ORIGIN
    source: str                 # the host (and prefix) as configured, or the original registry

    def describe(self) -> str:
        return f"{self.via} {self.source}"


@dataclass(frozen=True, eq=False)
class PullRoutes:
    """The redirect rules of one build (a frozen value, never shared state).

    ``hub`` is where the *fallback* to Docker Hub goes: None means Docker Hub itself. It
    exists so tests can stand a local registry in for Docker Hub (which they cannot reach);
    the CLI never sets it.
    """

    mirrors: tuple[Replacement, ...] = ()
    registry_map: Mapping[str, tuple[Replacement, ...]] = field(default_factory=dict)
    fallback: bool = True
    hub: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "registry_map", MappingProxyType(dict(self.registry_map)))

    @classmethod
    def from_flags(cls, mirrors=(), registry_map: Mapping[str, tuple[str, ...]] | None = None, *,
                   fallback: bool = True, hub: str | None = None) -> "PullRoutes":
        """From the raw flag values (``RegistryAccess.mirrors`` / ``.registry_map``); bad ones are a UsageError."""
        remap: dict[str, list[Replacement]] = {}
        for key, values in (registry_map or {}).items():
            entries = remap.setdefault(canonical_registry(key), [])
            entries.extend(parse_replacement(v, "--registry-map") for v in values)
        return cls(tuple(parse_replacement(m, "--registry-mirror") for m in mirrors),
                   {k: tuple(v) for k, v in remap.items()}, fallback, hub)

    @property
    def active(self) -> bool:
        return bool(self.mirrors or self.registry_map)

    def replacements(self, registry: str) -> list[tuple[str, Replacement]]:
        """``(via, replacement)`` for ``registry``, in the order they are tried."""
        found = [(MAPPED, r) for r in self.registry_map.get(registry, ())]
        if registry == DOCKER_HUB:
            found += [(MIRROR, r) for r in self.mirrors]
        return found

    def candidates(self, ref: Reference) -> list[Candidate]:
        """Every place to try for ``ref``, in order (the original registry last, if allowed)."""
        out = []
        for via, rep in self.replacements(ref.registry):
            repository = f"{rep.prefix}/{ref.repository}" if rep.prefix else ref.repository
            out.append(Candidate(replace(ref, registry=rep.host, repository=repository), via, str(rep)))
        if not out or self.fallback:
            origin = ref
            if ref.registry == DOCKER_HUB and self.hub is not None:
                origin = replace(ref, registry=self.hub)
            out.append(Candidate(origin, ORIGIN, ref.registry))
        return out


NO_ROUTES = PullRoutes()
