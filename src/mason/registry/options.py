"""How to reach registries: plain HTTP or TLS, which CAs, client certificates, retries.

One frozen value per build (never module state). Global flags mirror Kaniko's
(``--insecure``, ``--skip-tls-verify``) and per-registry settings override them for one host
(``--insecure-registry``, ``--skip-tls-verify-registry``, ``--registry-certificate``,
``--registry-client-cert``). Mirrors and registry maps are not here: they redirect pulls
only, and one client may serve pulls and pushes, so they are applied above the client
(``mason.registry.mirrors.PullRoutes``, used by ``mason.image.routed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mason.registry.localhost import may_fall_back_to_http
from mason.registry.retry import RetryPolicy
from mason.tls.trust import TlsTrust


@dataclass(frozen=True)
class RegistryHostOptions:
    """Settings for one registry host (``host[:port]``)."""

    insecure: bool = False              # plain HTTP
    skip_tls_verify: bool = False
    ca_files: tuple[str, ...] = ()      # extra CA certificates (PEM), added to the system ones
    client_cert: str | None = None      # PEM certificate for mutual TLS
    client_key: str | None = None       # its key (None: the key is in client_cert's file)


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class RegistryOptions:
    """How the registry clients connect: plain HTTP, TLS checks, CAs, retries, per host."""

    insecure: bool = False                              # plain HTTP for every registry
    insecure_registries: frozenset[str] = frozenset()   # plain HTTP for these hosts
    skip_tls_verify: bool = False                       # no TLS verification anywhere
    skip_tls_verify_registries: frozenset[str] = frozenset()
    hosts: Mapping[str, RegistryHostOptions] = field(default_factory=dict)
    # The build's CAs (system roots + SSL_CERT_FILE/SSL_CERT_DIR/Kaniko's directory); None: the
    # system roots only. Per-host --registry-certificate files are added on top.
    trust: TlsTrust | None = field(default=None, compare=False)
    # go-containerregistry's rule: loopback and private addresses may answer in plain HTTP.
    local_http_fallback: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Connections kept per host: at least the number of concurrent blob transfers.
    pool_size: int = 16
    connect_timeout: float = 30.0
    read_timeout: float = 300.0
    user_agent: str = "mason"

    def __post_init__(self) -> None:
        object.__setattr__(self, "insecure_registries", frozenset(self.insecure_registries))
        object.__setattr__(self, "skip_tls_verify_registries", frozenset(self.skip_tls_verify_registries))
        object.__setattr__(self, "hosts", _frozen(self.hosts))

    def for_host(self, host: str) -> RegistryHostOptions:
        """The effective settings for ``host``: per-host values merged with the global flags."""
        base = self.hosts.get(host, RegistryHostOptions())
        return RegistryHostOptions(
            insecure=base.insecure or self.insecure or host in self.insecure_registries,
            skip_tls_verify=base.skip_tls_verify or self.skip_tls_verify or host in self.skip_tls_verify_registries,
            ca_files=base.ca_files,
            client_cert=base.client_cert,
            client_key=base.client_key,
        )

    def scheme(self, host: str) -> str:
        """``http`` when a flag says so, else ``https`` (see ``http_fallback`` for local hosts)."""
        return "http" if self.for_host(host).insecure else "https"

    def http_fallback(self, host: str) -> bool:
        """Whether ``host`` is tried over HTTPS first and plain HTTP if it does not speak TLS."""
        return self.local_http_fallback and self.scheme(host) == "https" and may_fall_back_to_http(host)
