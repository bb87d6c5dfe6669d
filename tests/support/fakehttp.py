"""An in-process fake HTTP server for unit tests: a ``requests`` adapter answering from a handler.

Mount it on a ``requests.Session`` and pass the session to ``RegistryClient``: the client's
real code runs (headers, retries, auth, streaming) without a socket.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.response import HTTPResponse


@dataclass
class Seen:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FakeAdapter(BaseAdapter):
    """Calls ``handler(Seen) -> Reply | Exception``; records every request in ``seen``."""

    def __init__(self, handler: Callable[[Seen], "Reply | Exception"]):
        super().__init__()
        self.handler = handler
        self.seen: list[Seen] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        seen = Seen(request.method, request.url, dict(request.headers), body or b"")
        self.seen.append(seen)
        reply = self.handler(seen)
        if isinstance(reply, Exception):
            raise reply
        headers = {"Content-Length": str(len(reply.body)), **reply.headers}
        raw = HTTPResponse(body=io.BytesIO(b"" if request.method == "HEAD" else reply.body), headers=headers, status=reply.status,
                           preload_content=False, decode_content=False, request_method=request.method)
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(headers)
        response.raw = raw
        response.url = request.url
        response.request = request
        response.reason = {200: "OK", 201: "Created", 202: "Accepted", 401: "Unauthorized", 404: "Not Found",
                           429: "Too Many Requests", 503: "Service Unavailable"}.get(reply.status, "")
        return response

    def close(self):
        pass


def fake_session(handler) -> tuple[requests.Session, FakeAdapter]:
    session = requests.Session()
    adapter = FakeAdapter(handler)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter


class FakeClock:
    """Monotonic clock + sleep that only advance when slept."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
