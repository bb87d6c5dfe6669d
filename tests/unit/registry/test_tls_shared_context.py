"""The build's shared TLS context is made at the first HTTPS connection, not with the trust.

Loading the system roots costs CPU that a build speaking only plain HTTP (a loopback registry)
never needs. The system file here is not a certificate bundle, so loading it fails: a trust
that loaded it eagerly could not even be made.
"""

from __future__ import annotations

import http.server
import ssl
import threading

import pytest

from mason.tls import TlsTrust
from mason.tls.session import trusted_session

_BROKEN = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def plain_http():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2/"
    finally:
        server.shutdown()
        server.server_close()


def test_plain_http_never_loads_the_roots(tmp_path, plain_http):
    roots = tmp_path / "roots.pem"
    roots.write_text(_BROKEN)
    trust = TlsTrust.of(system=(str(roots), None))
    session = trusted_session(trust)
    with session.get(plain_http, timeout=10) as response:
        assert response.status_code == 200
    with pytest.raises(ssl.SSLError):
        trust.context()      # the first HTTPS connection is where the roots load


def test_the_shared_context_is_made_once(tmp_path):
    trust = TlsTrust.of()
    shared = trust.context()
    assert trust.context() is shared
    assert trust.context(verify=False) is not shared
