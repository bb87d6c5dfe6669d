"""Kaniko's registry flags (``RegistryAccess``) as registry-client options, per direction.

Kaniko keeps pull-side and push-side switches apart (``--insecure`` vs ``--insecure-pull``,
``--skip-tls-verify`` vs ``--skip-tls-verify-pull``), so a build whose switches differ has two
clients: one for base images and one for destinations. Per-registry lists, CA files and client
certificates apply to both; when the switches agree (``same_both_ways``: the usual case) one
client serves both directions.

Mirrors and registry maps are not client options: they redirect pulls only, so they become
a ``PullRoutes`` value (``pull_routes``) that the image source layer applies. ``--push-retry``
and ``--image-download-retry`` are not client options either: as in Kaniko they count
retries of a whole push / image retrieval, on top of the client's own per-request retries
(``mason.registry.operation_retry``), so the client keeps its default ``RetryPolicy``.
"""

from __future__ import annotations

from mason.executor.options import RegistryAccess


def registry_options(access: RegistryAccess | None, *, push: bool, trust=None):
    """``trust`` is the build's ``TlsTrust`` (every registry's HTTPS trusts it)."""
    from mason.registry import RegistryHostOptions, RegistryOptions  # requests and TLS load only when a registry is used

    if access is None:
        return RegistryOptions(trust=trust)
    hosts = {}
    for host in set(access.ca_certificates) | set(access.client_certificates):
        cert, key = access.client_certificates.get(host, (None, None))
        ca = access.ca_certificates.get(host)
        hosts[host] = RegistryHostOptions(ca_files=(ca,) if ca else (), client_cert=cert, client_key=key)
    return RegistryOptions(
        insecure=access.insecure if push else access.insecure_pull,
        insecure_registries=frozenset(access.insecure_registries),
        skip_tls_verify=access.skip_tls_verify if push else access.skip_tls_verify_pull,
        skip_tls_verify_registries=frozenset(access.skip_tls_verify_registries),
        hosts=hosts, trust=trust)


def same_both_ways(access: RegistryAccess | None) -> bool:
    """Whether pulls and pushes get equal client options: no push-side switch differs from its
    ``-pull`` twin (everything else applies to both). Then one client serves both directions,
    so a registry used for both is pinged once, and its tokens and connections are shared."""
    return access is None or (access.insecure == access.insecure_pull
                              and access.skip_tls_verify == access.skip_tls_verify_pull)


def pull_routes(access: RegistryAccess | None):
    """The build's ``PullRoutes`` (a UsageError names a malformed mirror or map entry)."""
    from mason.registry.mirrors import NO_ROUTES, PullRoutes  # loaded with the registry client

    if access is None:
        return NO_ROUTES
    return PullRoutes.from_flags(access.mirrors, access.registry_map, fallback=access.default_registry_fallback,
                                 hub=access.docker_hub)
