"""HTTP for registries: one ``requests.Session``, TLS per host, and the retry loop.

Every request mason makes to a registry or token service goes through
:meth:`Transport.request`, so retry rules (what is temporary, Retry-After, limits) and
credential redaction live in one place. The session is shared by concurrent transfers:
its connection pools are sized for that, and per-host TLS adapters are mounted under a lock.
Every HTTPS connection trusts the build's ``TlsTrust`` (plus a host's own CA); a registry
that looks local (``mason.registry.localhost``) and does not speak TLS is reached over plain
HTTP, as go-containerregistry does, and the log says so.

With the build's ``cancel`` token (``mason.cancel``), every connection the adapters have
checked out is tracked (``mason.registry.interrupt.InFlight``): setting the token shuts them
all down, so no request of a stopping build waits on a slow registry, and none is retried.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from mason.cancel import on_cancel
from mason.registry.diagnostics import TEMPORARY_STATUSES, connection_error, display_url
from mason.registry.interrupt import InFlight, TransferCancelled
from mason.registry.options import RegistryOptions
from mason.registry.redact import redact
from mason.registry.retry import Retrier
from mason.tls.session import TrustAdapter, is_certificate_failure, tls_failure_text
from mason.tls.trust import TlsTrust

BodyFactory = Callable[[], "bytes | BinaryIO | None"]


class Transport:
    def __init__(self, options: RegistryOptions, *, session: requests.Session | None = None,
                 logger: logging.Logger | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, cancel: threading.Event | None = None):
        self.options = options
        self.cancel = cancel
        self.inflight = InFlight()
        self.logger = logger or logging.getLogger("mason.registry")
        self._sleep, self._clock, self._wall_clock = sleep, clock, wall_clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._scheme_lock = threading.Lock()
        self._mounted: set[str] = set()
        self._schemes: dict[str, str] = {}     # local hosts: what the HTTPS-then-HTTP probe found
        self.trust = options.trust or TlsTrust.of()
        # An injected session (a test double) keeps its own adapters: mounting ours would shadow them.
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # Any other HTTPS host (a blob redirect to storage, a token realm) trusts the build's
            # CAs too; registry hosts get adapters of their own in _prepare_host.
            session.mount("https://", TrustAdapter(self.trust.context, pool_connections=options.pool_size,
                                                   pool_maxsize=options.pool_size))
            session.mount("http://", HTTPAdapter(pool_connections=options.pool_size,
                                                 pool_maxsize=options.pool_size))
            for adapter in session.adapters.values():
                self.inflight.track(adapter)
            on_cancel(cancel, self.inflight.cut)
        session.headers["User-Agent"] = options.user_agent
        self.session = session

    # -- URLs and TLS -------------------------------------------------------------------------
    def base_url(self, host: str) -> str:
        return f"{self.scheme(host)}://{host}"

    def scheme(self, host: str) -> str:
        """``https`` or ``http`` for ``host``; a local host is probed once (HTTPS first)."""
        if not self.options.http_fallback(host):
            return self.options.scheme(host)
        with self._scheme_lock:
            if host not in self._schemes:
                found = self._probe(host)
                if found is None:
                    return "https"      # nothing answers yet: fail (or retry) as any registry would
                self._schemes[host] = found
            return self._schemes[host]

    def _probe(self, host: str) -> str | None:
        timeout = (self.options.connect_timeout, self.options.read_timeout)
        url = f"https://{host}/v2/"
        self._prepare_host(url)
        try:
            self.session.request("GET", url, timeout=timeout, allow_redirects=False).close()
            return "https"
        except requests.exceptions.RequestException as exc:
            if is_certificate_failure(exc):
                return "https"          # it speaks TLS: its certificate problem is the error to report
            reason = type(exc).__name__
        try:
            self.session.request("GET", f"http://{host}/v2/", timeout=timeout, allow_redirects=False).close()
        except requests.exceptions.RequestException:
            return None
        self.logger.info("registry %s does not answer HTTPS (%s): using plain HTTP, as for every loopback "
                         "or private address (pass --insecure-registry %s to skip the HTTPS attempt)",
                         host, reason, host)
        return "http"

    def _prepare_host(self, url: str) -> bool:
        """Mount the host's TLS adapter (the build's trust, the host's CA and client
        certificate) on first use; returns requests' ``verify``."""
        host = urlsplit(url).netloc.rpartition("@")[2]
        settings = self.options.for_host(host)
        if self._own_session and urlsplit(url).scheme == "https":
            with self._lock:
                if host not in self._mounted:
                    context = self.trust.context(ca_files=settings.ca_files, client_cert=settings.client_cert,
                                                 client_key=settings.client_key,
                                                 verify=not settings.skip_tls_verify)
                    adapter = TrustAdapter(context, pool_connections=self.options.pool_size,
                                           pool_maxsize=self.options.pool_size)
                    self.inflight.track(adapter)
                    self.session.mount(f"https://{host}/", adapter)
                    self._mounted.add(host)
        return not settings.skip_tls_verify

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def check_cancelled(self, what: str) -> None:
        if self.cancelled():
            raise TransferCancelled(f"{what} cancelled: the build is stopping")

    def _wait(self, seconds: float) -> None:
        """A retry's back-off; a stopping build does not sit it out."""
        if self.cancel is not None and self._sleep is time.sleep:
            self.cancel.wait(seconds)
        else:
            self._sleep(seconds)

    def retrier(self) -> Retrier:
        return Retrier(self.options.retry, sleep=self._wait, clock=self._clock, wall_clock=self._wall_clock,
                       rng=random.Random(self._rng.random()))

    # -- requests -----------------------------------------------------------------------------
    def request(self, method: str, url: str, *, registry: str, headers: dict[str, str] | None = None,
                body: BodyFactory | None = None, stream: bool = False, allow_redirects: bool = True,
                authorize: Callable[[], str | None] | None = None,
                on_unauthorized: Callable[[requests.Response], bool] | None = None,
                secrets: Callable[[], tuple[str | None, ...]] = tuple) -> requests.Response:
        """Send with retries; returns the final response (any status) or raises on transport failure.

        ``body`` is a factory so a retried request re-opens its data instead of buffering it.
        ``on_unauthorized`` is consulted once on a 401 (it may fetch a new token); if it says
        so, the request is repeated with a fresh ``authorize()`` header.
        """
        retrier = self.retrier()
        refreshed = False
        verify = self._prepare_host(url)
        while True:
            request_headers = dict(headers or {})
            if authorize is not None:
                value = authorize()
                if value:
                    request_headers["Authorization"] = value
            self.check_cancelled(f"{method} {display_url(url)}")
            data = body() if body is not None else None
            try:
                self.logger.debug("%s %s", method, display_url(url))
                response = self.session.request(
                    method, url, headers=request_headers, data=data, stream=stream, verify=verify,
                    allow_redirects=allow_redirects,
                    timeout=(self.options.connect_timeout, self.options.read_timeout))
            except requests.exceptions.RequestException as exc:
                self.check_cancelled(f"{method} {display_url(url)}")
                tls = None
                if isinstance(exc, requests.exceptions.SSLError):
                    host = urlsplit(url).netloc.rpartition("@")[2]
                    tls = tls_failure_text(url, exc, self.trust, self.options.for_host(host).ca_files)
                error = connection_error(exc, registry=registry, method=method, url=url, secrets=secrets(),
                                         tls=tls)
                if error.temporary and retrier.wait_before_retry():
                    self.logger.info("retrying after: %s", error.message)
                    continue
                raise error from None
            finally:
                close = getattr(data, "close", None)
                if close is not None:
                    close()
            if response.status_code == 401 and on_unauthorized is not None and not refreshed:
                refreshed = True
                if on_unauthorized(response):
                    response.close()
                    continue
            if response.status_code in TEMPORARY_STATUSES:
                if retrier.wait_before_retry(response.headers.get("Retry-After")) and not self.cancelled():
                    self.logger.info(redact(f"retrying {method} {display_url(url)} after HTTP "
                                            f"{response.status_code}", secrets()))
                    response.close()
                    continue
            return response


