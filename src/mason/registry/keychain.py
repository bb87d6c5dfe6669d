"""Where credentials come from: a keychain maps a registry host to a ``Credential``.

Keychains take the environment as a mapping argument (never ``os.environ`` at import), so
two builds with different credentials can run in one process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mason.oci.reference import DOCKER_HUB, DOCKER_HUB_ALIASES


@dataclass(frozen=True)
class Credential:
    """What to present to a registry. Secrets are kept out of ``repr``."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)   # OAuth2 refresh token
    registry_token: str | None = field(default=None, repr=False)   # a bearer token used as-is

    @property
    def anonymous(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def secrets(self) -> tuple[str | None, ...]:
        return (self.password, self.identity_token, self.registry_token)


ANONYMOUS = Credential()


class Keychain(Protocol):
    def resolve(self, registry: str) -> Credential:
        """Credentials for ``registry`` (a normalised host such as ``docker.io``), or ANONYMOUS."""


def normalize_registry_key(key: str) -> str:
    """The host a config key names: drops scheme, path (``/v1/``, ``/v2/``) and case.

    ``https://index.docker.io/v1/``, ``index.docker.io`` and ``registry-1.docker.io`` all
    name Docker Hub, which references call ``docker.io``.
    """
    host = key.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].lower()
    if host in DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    return host


class StaticKeychain:
    """Fixed credentials per registry (command-line flags, tests)."""

    def __init__(self, credentials: Mapping[str, Credential]):
        self._credentials = {normalize_registry_key(k): v for k, v in credentials.items()}

    def resolve(self, registry: str) -> Credential:
        return self._credentials.get(normalize_registry_key(registry), ANONYMOUS)


class GitLabKeychain:
    """GitLab CI's job variables: ``CI_REGISTRY``, ``CI_REGISTRY_USER``, ``CI_REGISTRY_PASSWORD``."""

    def __init__(self, env: Mapping[str, str]):
        self._registry = normalize_registry_key(env.get("CI_REGISTRY", "")) if env.get("CI_REGISTRY") else None
        self._user = env.get("CI_REGISTRY_USER")
        self._password = env.get("CI_REGISTRY_PASSWORD")

    def resolve(self, registry: str) -> Credential:
        if self._registry and self._user and self._password and normalize_registry_key(registry) == self._registry:
            return Credential(username=self._user, password=self._password)
        return ANONYMOUS


class ChainKeychain:
    """The first keychain with non-anonymous credentials for the registry wins."""

    def __init__(self, *keychains: Keychain):
        self._keychains = keychains

    def resolve(self, registry: str) -> Credential:
        for keychain in self._keychains:
            credential = keychain.resolve(registry)
            if not credential.anonymous:
                return credential
        return ANONYMOUS


def default_keychain(env: Mapping[str, str], **docker_config_kwargs) -> Keychain:
    """Docker config files first (explicit configuration), then GitLab CI variables."""
    from mason.registry.dockerconfig import DockerConfigKeychain

    return ChainKeychain(DockerConfigKeychain(env, **docker_config_kwargs), GitLabKeychain(env))
