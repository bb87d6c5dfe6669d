"""Credentials from Docker ``config.json`` files, the way docker, crane and Kaniko read them.

Files, in order: ``$DOCKER_CONFIG/config.json``, ``$HOME/.docker/config.json``,
``/kaniko/.docker/config.json`` (pipelines written for Kaniko mount credentials there).
The first file with credentials for the registry wins. Within a file: ``credHelpers`` for
the registry, then ``credsStore``, then the ``auths`` entry (docker's own precedence).
Keys may be spelled ``host``, ``https://host``, ``https://host/v1/``; Docker Hub is
``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable, Mapping

from mason.errors import AuthError
from mason.oci.reference import DOCKER_HUB
from mason.registry.credhelper import run_credential_helper
from mason.registry.keychain import ANONYMOUS, Credential, normalize_registry_key

KANIKO_DOCKER_DIR = "/kaniko/.docker"
DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"

HelperRunner = Callable[[str, str, Mapping[str, str]], Credential]


def config_paths(env: Mapping[str, str], *, kaniko_dir: str | None = KANIKO_DOCKER_DIR) -> list[str]:
    paths = []
    if env.get("DOCKER_CONFIG"):
        paths.append(os.path.join(env["DOCKER_CONFIG"], "config.json"))
    if env.get("HOME"):
        paths.append(os.path.join(env["HOME"], ".docker", "config.json"))
    if kaniko_dir:
        paths.append(os.path.join(kaniko_dir, "config.json"))
    unique = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def _load(path: str) -> dict | None:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read Docker config {path}: {type(exc).__name__}: {exc}",
                        hint="fix or remove the file") from None
    if not isinstance(doc, dict):
        raise AuthError(f"Docker config {path} is not a JSON object")
    return doc


def _matching(mapping: object, registry: str) -> tuple[str, object] | None:
    if not isinstance(mapping, dict):
        return None
    for key, value in mapping.items():
        if isinstance(key, str) and normalize_registry_key(key) == registry:
            return key, value
    return None


def decode_auth_entry(entry: object, *, path: str, key: str) -> Credential:
    """One ``auths`` entry to a Credential (``auth`` base64, username/password, tokens)."""
    if not isinstance(entry, dict):
        raise AuthError(f"Docker config {path}: auths entry {key!r} is not an object")
    username, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise AuthError(f"Docker config {path}: auths entry {key!r} has an invalid 'auth' value "
                            "(expected base64 of user:password)") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise AuthError(f"Docker config {path}: auths entry {key!r}: 'auth' does not decode to user:password")
    if entry.get("registrytoken"):
        return Credential(registry_token=entry["registrytoken"])
    if entry.get("identitytoken"):
        return Credential(username=username or None, identity_token=entry["identitytoken"])
    if username or password:
        return Credential(username=username or None, password=password or None)
    return ANONYMOUS


class DockerConfigKeychain:
    def __init__(self, env: Mapping[str, str], *, kaniko_dir: str | None = KANIKO_DOCKER_DIR,
                 run_helper: HelperRunner = run_credential_helper):
        self._env = dict(env)
        self._paths = config_paths(self._env, kaniko_dir=kaniko_dir)
        self._run_helper = run_helper

    @property
    def paths(self) -> list[str]:
        return list(self._paths)

    def _server_url(self, registry: str, key: str | None) -> str:
        if key is not None:
            return key
        return DOCKER_HUB_SERVER_URL if registry == DOCKER_HUB else registry

    def _from_file(self, path: str, doc: dict, registry: str) -> Credential:
        helper = _matching(doc.get("credHelpers"), registry)
        if helper is not None:
            key, name = helper
            if not isinstance(name, str) or not name:
                raise AuthError(f"Docker config {path}: credHelpers entry {key!r} must name a helper")
            credential = self._run_helper(name, key, self._env)
            if not credential.anonymous:
                return credential
        entry = _matching(doc.get("auths"), registry)
        store = doc.get("credsStore")
        if isinstance(store, str) and store:
            credential = self._run_helper(store, self._server_url(registry, entry[0] if entry else None), self._env)
            if not credential.anonymous:
                return credential
        if entry is not None:
            return decode_auth_entry(entry[1], path=path, key=entry[0])
        return ANONYMOUS

    def resolve(self, registry: str) -> Credential:
        registry = normalize_registry_key(registry)
        for path in self._paths:
            doc = _load(path)
            if doc is None:
                continue
            credential = self._from_file(path, doc, registry)
            if not credential.anonymous:
                return credential
        return ANONYMOUS
