"""A small HTTP proxy in front of a plain-HTTP registry that injects faults for tests.

It forwards every request (streaming bodies both ways) unless a rule says otherwise:
answer the next N matching requests with an error status (e.g. 503 with Retry-After),
or flip a byte in blob downloads so digest verification must catch it.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_CHUNK = 1 << 16


@dataclass
class FailRule:
    remaining: int
    status: int
    method: str | None
    path_contains: str
    retry_after: str | None
    body: bytes | None = None          # the error document answered (default: UNAVAILABLE)


class FaultProxy:
    def __init__(self, upstream_host: str):
        self.upstream_host = upstream_host
        self.corrupt_blobs = False
        self.log: list[tuple[str, str, int]] = []   # (method, path, status answered)
        self._rules: list[FailRule] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def fail_next(self, count: int, status: int = 503, *, method: str | None = None, path_contains: str = "",
                  retry_after: str | None = None, body: bytes | None = None) -> None:
        with self._lock:
            self._rules.append(FailRule(count, status, method, path_contains, retry_after, body))

    def _take_rule(self, method: str, path: str) -> FailRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining > 0 and (rule.method in (None, method)) and rule.path_contains in path:
                    rule.remaining -= 1
                    return rule
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                rule = proxy._take_rule(self.command, self.path)
                if rule is not None:
                    # consume the body so the connection stays usable, then answer the fault
                    left = length
                    while left:
                        left -= len(self.rfile.read(min(left, _CHUNK)))
                    proxy._record(self.command, self.path, rule.status)
                    body = rule.body or b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
                    self.send_response(rule.status)
                    if rule.retry_after is not None:
                        self.send_header("Retry-After", rule.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream_host, timeout=120)
                try:
                    upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for key, value in self.headers.items():
                        if key.lower() not in _HOP_BY_HOP:
                            upstream.putheader(key, value)
                    upstream.endheaders()
                    left = length
                    while left:
                        chunk = self.rfile.read(min(left, _CHUNK))
                        if not chunk:
                            break
                        upstream.send(chunk)
                        left -= len(chunk)
                    response = upstream.getresponse()
                    proxy._record(self.command, self.path, response.status)
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    self.end_headers()
                    corrupt = (proxy.corrupt_blobs and self.command == "GET" and "/blobs/sha256:" in self.path
                               and response.status == 200)
                    if self.command == "HEAD":
                        return
                    first = True
                    while True:
                        chunk = response.read(_CHUNK)
                        if not chunk:
                            break
                        if corrupt and first:
                            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                        first = False
                        self.wfile.write(chunk)
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler

    def start(self) -> "FaultProxy":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # clients closing early (e.g. after a digest mismatch) are expected: no tracebacks
        self._server.handle_error = lambda request, address: None
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True).start()
        return self

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
