"""Kaniko's registry flags (``RegistryAccess``) as registry-client options, per direction.

Kaniko keeps pull-side and push-side switches apart (``--insecure`` vs ``--insecure-pull``,
``--skip-tls-verify`` vs ``--skip-tls-verify-pull``), so a build has two clients: one for
base images and one for destinations. Per-registry lists, CA files and client certificates
apply to both.
"""

from __future__ import annotations

from mason.build.options import RegistryAccess
from mason.errors import NotSupportedError


def registry_options(access: RegistryAccess | None, *, push: bool):
    from mason.registry import RegistryHostOptions, RegistryOptions, RetryPolicy

    if access is None:
        return RegistryOptions()
    if access.mirrors or access.registry_map:
        raise NotSupportedError("--registry-mirror and --registry-map are not implemented yet",
                                hint="name the mirror in the FROM line (or a build-arg) instead")
    if access.push_ignore_immutable_tag_errors:
        raise NotSupportedError("--push-ignore-immutable-tag-errors is not implemented yet")
    hosts = {}
    for host in set(access.ca_certificates) | set(access.client_certificates):
        cert, key = access.client_certificates.get(host, (None, None))
        ca = access.ca_certificates.get(host)
        hosts[host] = RegistryHostOptions(ca_files=(ca,) if ca else (), client_cert=cert, client_key=key)
    retries = access.push_retry if push else access.image_download_retry
    retry = RetryPolicy(max_attempts=max(5, retries + 1))
    return RegistryOptions(
        insecure=access.insecure if push else access.insecure_pull,
        insecure_registries=frozenset(access.insecure_registries),
        skip_tls_verify=access.skip_tls_verify if push else access.skip_tls_verify_pull,
        skip_tls_verify_registries=frozenset(access.skip_tls_verify_registries),
        hosts=hosts, ca_files=tuple(access.ca_files), retry=retry)
