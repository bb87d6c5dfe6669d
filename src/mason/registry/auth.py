"""The auth state machine: which ``Authorization`` header a request carries.

Per registry, the challenge is learned from ``GET /v2/`` (or any 401). Basic challenges get
the keychain's user and password. Bearer challenges get a token from the realm for exactly
the scopes the operation needs (pull for reads, pull+push for writes, both repositories for
a mount); tokens are cached per (registry, scopes) until shortly before they expire, and a
401 carrying a new challenge drops the cached token and fetches a fresh one once.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests

from mason.errors import AuthError, RegistryError
from mason.registry.challenge import Challenge, pick_challenge
from mason.registry.diagnostics import error_for_status, parse_error_body
from mason.registry.keychain import ANONYMOUS, Credential, Keychain
from mason.registry.redact import redact
from mason.registry.transport import Transport

_DEFAULT_TOKEN_LIFETIME = 60.0
_EXPIRY_MARGIN = 10.0
_CLIENT_ID = "mason"


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


@dataclass(frozen=True)
class _Token:
    """A bearer token and when it expires."""

    value: str
    expires_at: float


def _basic(credential: Credential) -> str:
    raw = f"{credential.username or ''}:{credential.password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class Authenticator:
    """Thread-safe: one lock guards the challenge, credential and token caches."""

    def __init__(self, keychain: Keychain | None, transport: Transport, *,
                 clock: Callable[[], float] = time.monotonic):
        self._keychain = keychain
        self._transport = transport
        self._clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge | None] = {}
        self._credentials: dict[str, Credential] = {}
        self._tokens: dict[tuple[str, frozenset[str]], _Token] = {}
        # One token request per (registry, scopes) at a time: a stage's cache lookups start
        # together, and each used to fetch the same token for itself.
        self._fetching: dict[tuple[str, frozenset[str]], threading.Lock] = {}

    # -- state --------------------------------------------------------------------------------
    def knows(self, registry: str) -> bool:
        with self._lock:
            return registry in self._challenges

    def learn(self, registry: str, www_authenticate: str | None) -> Challenge | None:
        challenge = pick_challenge(www_authenticate)
        with self._lock:
            self._challenges[registry] = challenge
        return challenge

    def credential(self, registry: str) -> Credential:
        with self._lock:
            if registry in self._credentials:
                return self._credentials[registry]
        credential = self._keychain.resolve(registry) if self._keychain is not None else ANONYMOUS
        with self._lock:
            self._credentials[registry] = credential
        return credential

    def secrets(self, registry: str) -> tuple[str | None, ...]:
        with self._lock:
            credential = self._credentials.get(registry, ANONYMOUS)
            tokens = tuple(t.value for (r, _), t in self._tokens.items() if r == registry)
        return credential.secrets() + tokens

    # -- headers ------------------------------------------------------------------------------
    def authorization(self, registry: str, scopes: Iterable[str]) -> str | None:
        """The header value for a request needing ``scopes``, fetching a token if needed."""
        with self._lock:
            challenge = self._challenges.get(registry)
        if challenge is None:
            return None
        credential = self.credential(registry)
        if challenge.scheme == "basic":
            return None if credential.anonymous else _basic(credential)
        if credential.registry_token:
            return f"Bearer {credential.registry_token}"
        key = (registry, frozenset(scopes))
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and not self._stale(token):
                return f"Bearer {token.value}"
            gate = self._fetching.setdefault(key, threading.Lock())
        with gate:                        # whoever waited here finds the token just fetched
            with self._lock:
                token = self._tokens.get(key)
            if token is None or self._stale(token):
                token = self._fetch_token(registry, challenge, credential, key[1])
                with self._lock:
                    self._tokens[key] = token
        return f"Bearer {token.value}"

    def _stale(self, token: _Token) -> bool:
        return token.expires_at - _EXPIRY_MARGIN <= self._clock()

    def on_unauthorized(self, registry: str, scopes: Iterable[str], response: requests.Response) -> bool:
        """After a 401: learn its challenge, drop the stale token; True if retrying may succeed."""
        challenge = self.learn(registry, response.headers.get("WWW-Authenticate"))
        if challenge is None:
            return False
        scopes = frozenset(scopes)
        with self._lock:
            self._tokens.pop((registry, scopes), None)
        credential = self.credential(registry)
        if challenge.scheme == "basic":
            return not credential.anonymous and "Authorization" not in response.request.headers
        return not credential.registry_token or "Authorization" not in response.request.headers

    # -- token service ------------------------------------------------------------------------
    def _fetch_token(self, registry: str, challenge: Challenge, credential: Credential,
                     scopes: frozenset[str]) -> _Token:
        realm = challenge.realm
        if not realm:
            raise AuthError(f"registry {registry}: Bearer challenge without a realm: cannot get a token")
        all_scopes = sorted(scopes | set(challenge.scopes))
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        secrets = credential.secrets()
        if credential.identity_token:
            form = params + [("grant_type", "refresh_token"), ("refresh_token", credential.identity_token),
                             ("client_id", _CLIENT_ID)]
            if all_scopes:
                form.append(("scope", " ".join(all_scopes)))
            response = self._transport.request(
                "POST", realm, registry=registry, body=lambda: urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"}, secrets=lambda: secrets)
        else:
            params += [("scope", s) for s in all_scopes]
            headers = {} if credential.anonymous else {"Authorization": _basic(credential)}
            separator = "&" if urlsplit(realm).query else "?"
            url = realm + (separator + urlencode(params) if params else "")
            response = self._transport.request("GET", url, registry=registry, headers=headers,
                                               secrets=lambda: secrets)
        with response:
            if response.status_code != 200:
                raise self._token_error(registry, realm, credential, response, secrets)
            try:
                doc = response.json()
            except ValueError:
                raise AuthError(f"registry {registry}: token service {_host(realm)} answered with invalid JSON") \
                    from None
        value = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(value, str) or not value:
            raise AuthError(f"registry {registry}: token service {_host(realm)} answered without a token")
        lifetime = doc.get("expires_in")
        if not isinstance(lifetime, (int, float)) or lifetime <= 0:
            lifetime = _DEFAULT_TOKEN_LIFETIME
        return _Token(value, self._clock() + float(lifetime))

    def _token_error(self, registry: str, realm: str, credential: Credential, response: requests.Response,
                     secrets: tuple[str | None, ...]) -> RegistryError:
        who = "anonymous access" if credential.anonymous else (
            f"user {credential.username!r}" if credential.username else "the configured token")
        if response.status_code in (401, 403):
            details = "; ".join(m for _, m in parse_error_body(response.content) if m)
            message = (f"registry {registry}: authentication failed for {who} at token service {_host(realm)}: "
                       f"HTTP {response.status_code}" + (f": {details}" if details else ""))
            return AuthError(redact(message, secrets), status=response.status_code, method=response.request.method,
                             url=_host(realm),
                             hint=f"check the credentials for {registry} (docker config.json, credential helper "
                                  "or CI_REGISTRY_* variables)")
        return error_for_status(registry=registry, method=response.request.method or "GET", url=realm,
                                status=response.status_code, reason=response.reason or "",
                                body=response.content, what="token request", secrets=secrets)


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2]
