"""``requests`` with a ``TlsTrust``: the adapter, a ready session, and TLS failure messages.

requests would otherwise verify against certifi's bundle (or ``REQUESTS_CA_BUNDLE`` from the
process environment), silently ignoring the build's CAs. The adapter hands urllib3 the
trust's ``SSLContext`` and keeps requests from loading any other bundle into it.
"""

from __future__ import annotations

import ssl
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from mason.tls.trust import TlsTrust


class TrustAdapter(HTTPAdapter):
    """An adapter whose every HTTPS connection uses ``ssl_context`` and nothing else. It may be
    a function returning the context, called at the first HTTPS connection (a session mounted
    for every host need not load the CA roots unless something speaks HTTPS)."""

    def __init__(self, ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext], **kwargs):
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        context = self._ssl_context if isinstance(self._ssl_context, ssl.SSLContext) else self._ssl_context()
        verifying = context.verify_mode != ssl.CERT_NONE
        return host_params, {"ssl_context": context,
                             "cert_reqs": "CERT_REQUIRED" if verifying else "CERT_NONE"}

    def cert_verify(self, conn, url, verify, cert):
        # The context already holds the CAs (and client certificate); requests would add
        # certifi's bundle to it, or switch verification off for verify=False.
        return None


def trusted_session(trust: TlsTrust, *, pool_size: int = 10) -> requests.Session:
    """A session whose HTTPS connections trust exactly ``trust`` (system roots + extra CAs)."""
    session = requests.Session()
    session.mount("https://", TrustAdapter(trust.context, pool_connections=pool_size, pool_maxsize=pool_size))
    return session


def is_certificate_failure(exc: BaseException) -> bool:
    """True when TLS failed because the peer's certificate was not accepted (so the server
    does speak TLS), as opposed to a server that answered in plain HTTP or hung up."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return True
        if isinstance(cur, ssl.CertificateError):
            return True
        text = str(cur)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return True
        cur = _next_cause(cur)
    return False


def _next_cause(exc: BaseException) -> BaseException | None:
    """The exception ``exc`` wraps: its cause, its context, or (urllib3's way) its first argument."""
    return exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException)
                                                else None)


def tls_failure_text(url: str, exc: BaseException, trust: TlsTrust, ca_files: tuple[str, ...] = ()) -> str:
    """``TLS with HOST failed: <reason>; CA files tried: …`` for an SSL error reaching ``url``
    (or the host a redirect led to: the one whose certificate failed)."""
    failed = getattr(getattr(exc, "request", None), "url", None) or url
    host = urlsplit(failed).netloc.rpartition("@")[2] or url
    reason = _reason(exc)
    return f"TLS with {host} failed: {reason}; CA files tried: {trust.tried(ca_files)}"


def _reason(exc: BaseException) -> str:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return f"certificate not trusted ({cur.verify_message})"
        if isinstance(cur, ssl.SSLError):
            return f"{cur.reason or cur}"
        cur = _next_cause(cur)
    return "certificate not trusted" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "handshake failed"
