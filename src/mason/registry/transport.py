"""HTTP for registries: one ``requests.Session``, TLS per host, and the retry loop.

Every request mason makes to a registry or token service goes through
:meth:`Transport.request`, so retry rules (what is temporary, Retry-After, limits) and
credential redaction live in one place. The session is shared by concurrent transfers:
its connection pools are sized for that, and per-host TLS adapters are mounted under a lock.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from mason.registry.diagnostics import TEMPORARY_STATUSES, connection_error, display_url
from mason.registry.options import RegistryHostOptions, RegistryOptions
from mason.registry.redact import redact
from mason.registry.retry import Retrier

BodyFactory = Callable[[], "bytes | BinaryIO | None"]


class _ContextAdapter(HTTPAdapter):
    """An adapter whose TLS uses our own ``SSLContext`` (extra CAs, client certificate)."""

    def __init__(self, ssl_context: ssl.SSLContext, verify: bool, **kwargs):
        self._ssl_context = ssl_context
        self._verify = verify
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pool_kwargs = {"ssl_context": self._ssl_context,
                       "cert_reqs": "CERT_REQUIRED" if self._verify else "CERT_NONE"}
        return host_params, pool_kwargs


def _ssl_context(host: RegistryHostOptions) -> ssl.SSLContext:
    context = ssl.create_default_context()
    for ca_file in host.ca_files:
        context.load_verify_locations(cafile=ca_file)
    if host.client_cert:
        context.load_cert_chain(host.client_cert, host.client_key)
    if host.skip_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Transport:
    def __init__(self, options: RegistryOptions, *, session: requests.Session | None = None,
                 logger: logging.Logger | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None):
        self.options = options
        self.logger = logger or logging.getLogger("mason.registry")
        self._sleep, self._clock, self._wall_clock = sleep, clock, wall_clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._mounted: set[str] = set()
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=options.pool_size, pool_maxsize=options.pool_size)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        session.headers["User-Agent"] = options.user_agent
        self.session = session

    # -- URLs and TLS -------------------------------------------------------------------------
    def base_url(self, host: str) -> str:
        return f"{self.options.scheme(host)}://{host}"

    def _prepare_host(self, url: str) -> bool | str:
        """Mount a TLS adapter for the URL's host if it needs one; returns requests' ``verify``."""
        host = urlsplit(url).netloc.rpartition("@")[2]
        settings = self.options.for_host(host)
        if settings.ca_files or settings.client_cert:
            with self._lock:
                if host not in self._mounted:
                    adapter = _ContextAdapter(_ssl_context(settings), not settings.skip_tls_verify,
                                              pool_connections=self.options.pool_size,
                                              pool_maxsize=self.options.pool_size)
                    self.session.mount(f"https://{host}/", adapter)
                    self._mounted.add(host)
        return not settings.skip_tls_verify

    def retrier(self) -> Retrier:
        return Retrier(self.options.retry, sleep=self._sleep, clock=self._clock, wall_clock=self._wall_clock,
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
            data = body() if body is not None else None
            try:
                self.logger.debug("%s %s", method, display_url(url))
                response = self.session.request(
                    method, url, headers=request_headers, data=data, stream=stream, verify=verify,
                    allow_redirects=allow_redirects,
                    timeout=(self.options.connect_timeout, self.options.read_timeout))
            except requests.exceptions.RequestException as exc:
                error = connection_error(exc, registry=registry, method=method, url=url, secrets=secrets())
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
                if retrier.wait_before_retry(response.headers.get("Retry-After")):
                    self.logger.info(redact(f"retrying {method} {display_url(url)} after HTTP "
                                            f"{response.status_code}", secrets()))
                    response.close()
                    continue
            return response


