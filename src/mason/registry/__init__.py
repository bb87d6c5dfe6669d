"""mason's registry client: distribution API, auth, credentials, retries.

Public entry points::

    from mason.registry import RegistryClient, RegistryOptions, RegistryHostOptions, RetryPolicy
    from mason.registry import Credential, default_keychain, DockerConfigKeychain, GitLabKeychain
"""

from mason.registry.client import RegistryClient
from mason.registry.dockerconfig import DockerConfigKeychain
from mason.registry.keychain import (ANONYMOUS, ChainKeychain, Credential, GitLabKeychain, Keychain,
                                     StaticKeychain, default_keychain)
from mason.registry.options import RegistryHostOptions, RegistryOptions
from mason.registry.retry import NO_RETRY, RetryPolicy

__all__ = ["ANONYMOUS", "ChainKeychain", "Credential", "DockerConfigKeychain", "GitLabKeychain", "Keychain",
           "NO_RETRY", "RegistryClient", "RegistryHostOptions", "RegistryOptions", "RetryPolicy", "StaticKeychain",
           "default_keychain"]
