"""A tiny token service for distribution's ``auth: token``, written for the tests.

It checks HTTP Basic credentials (or an OAuth2 refresh token posted as a form), then signs
an RS256 JWT that grants exactly the requested scopes the user is allowed. Distribution
2.8 finds the signing key from the ``x5c`` header: a certificate chain that must verify
against the registry's ``rootcertbundle`` (here the self-signed signing certificate itself).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class User:
    password: str
    # repository glob -> allowed actions, e.g. {"*": {"pull", "push"}, "readonly/*": {"pull"}}
    grants: dict[str, set[str]] = field(default_factory=dict)


class TokenIssuer:
    def __init__(self, *, key, cert, service: str, issuer: str = "mason-test-issuer",
                 users: dict[str, User] | None = None, anonymous_grants: dict[str, set[str]] | None = None,
                 lifetime: int = 300):
        self.key, self.cert = key, cert
        self.service, self.issuer = service, issuer
        self.users = users or {}
        self.anonymous_grants = anonymous_grants or {}
        self.lifetime = lifetime
        self.refresh_tokens: dict[str, str] = {}   # refresh token -> user
        self.requests: list[dict] = []             # what was asked, for assertions
        self.failures_left = 0                     # answer the next N requests with failure_status
        self.failure_status = 503
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- tokens -------------------------------------------------------------------------------
    def _granted(self, user: str | None, scope: str) -> dict | None:
        parts = scope.split(":")
        if len(parts) < 3 or parts[0] != "repository":
            return None
        name, wanted = ":".join(parts[1:-1]), set(parts[-1].split(","))
        grants = self.users[user].grants if user else self.anonymous_grants
        allowed: set[str] = set()
        for pattern, actions in grants.items():
            if fnmatch.fnmatchcase(name, pattern):
                allowed |= actions
        actions = sorted(wanted & allowed)
        return {"type": "repository", "name": name, "actions": actions}

    def sign(self, user: str | None, scopes: list[str]) -> str:
        now = int(time.time())
        access = [a for a in (self._granted(user, s) for s in scopes) if a is not None]
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + self.lifetime,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def fail_next(self, count: int, status: int = 503) -> None:
        """Be "briefly down": answer the next ``count`` token requests with ``status``."""
        with self._lock:
            self.failures_left, self.failure_status = count, status

    def _take_failure(self) -> int | None:
        with self._lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return self.failure_status
        return None

    # -- HTTP ---------------------------------------------------------------------------------
    def _handler(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, status: int, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _basic_user(self) -> tuple[bool, str | None]:
                header = self.headers.get("Authorization")
                if not header:
                    return True, None
                scheme, _, value = header.partition(" ")
                if scheme.lower() != "basic":
                    return False, None
                user, _, password = base64.b64decode(value).decode().partition(":")
                known = issuer.users.get(user)
                return (known is not None and known.password == password), user

            def do_GET(self):
                failure = issuer._take_failure()
                if failure is not None:
                    self._answer(failure, {"details": "token service injected failure"})
                    return
                query = parse_qs(urlsplit(self.path).query)
                ok, user = self._basic_user()
                scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
                with issuer._lock:
                    issuer.requests.append({"method": "GET", "user": user, "scopes": scopes,
                                            "service": query.get("service", [None])[0]})
                if not ok:
                    self._answer(401, {"details": "invalid username or password"})
                    return
                refresh = None
                if user and query.get("offline_token", ["false"])[0] == "true":
                    refresh = uuid.uuid4().hex
                    with issuer._lock:
                        issuer.refresh_tokens[refresh] = user
                doc = {"token": issuer.sign(user, scopes), "expires_in": issuer.lifetime}
                if refresh:
                    doc["refresh_token"] = refresh
                self._answer(200, doc)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                failure = issuer._take_failure()
                if failure is not None:
                    self._answer(failure, {"details": "token service injected failure"})
                    return
                grant = form.get("grant_type", [""])[0]
                scopes = [s for value in form.get("scope", []) for s in value.split(" ")]
                user = None
                if grant == "refresh_token":
                    user = issuer.refresh_tokens.get(form.get("refresh_token", [""])[0])
                elif grant == "password":
                    name = form.get("username", [""])[0]
                    if name in issuer.users and issuer.users[name].password == form.get("password", [""])[0]:
                        user = name
                with issuer._lock:
                    issuer.requests.append({"method": "POST", "user": user, "scopes": scopes, "grant": grant})
                if user is None:
                    self._answer(401, {"error": "invalid_grant", "error_description": "unknown refresh token"})
                    return
                self._answer(200, {"access_token": issuer.sign(user, scopes), "expires_in": issuer.lifetime})

        return Handler

    def start(self) -> "TokenIssuer":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # clients closing early (e.g. after a digest mismatch) are expected: no tracebacks
        self._server.handle_error = lambda request, address: None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
