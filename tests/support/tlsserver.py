"""An HTTPS server on 127.0.0.1 with a private CA: static files and git's smart HTTP.

Files are served from a dict (``path -> bytes``), redirects from another (``path -> URL``,
answered 307); paths under ``/git/`` go to
``git http-backend`` (the CGI git ships) over repositories below ``git_root``, so a real git
client clones over real TLS. The CA is made per server (``tests.support.certs``); nothing on
the machine trusts it unless the test says so.
"""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.certs import make_ca, make_server_cert


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args) -> None:   # keep test output quiet
        pass

    def _serve(self, method: str) -> None:
        path = urlsplit(self.path).path
        self.server.owner.requests.append(f"{method} {path}")
        if path.startswith("/git/") and self.server.owner.git_root:
            return self._git(method)
        target = self.server.owner.redirects.get(path)
        if target is not None:
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.owner.files.get(path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method == "GET":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def _git(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": self.server.owner.git_root,
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": method, "PATH_INFO": parts.path[len("/git"):],
               "QUERY_STRING": parts.query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1"}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: "TlsServer"


@dataclass
class TlsServer:
    workdir: str
    files: dict[str, bytes] = field(default_factory=dict)
    git_root: str | None = None
    redirects: dict[str, str] = field(default_factory=dict)    # path -> Location (307)
    requests: list[str] = field(default_factory=list)
    ca_file: str = ""
    port: int = 0
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"https://{self.host}{path}"

    def start(self) -> "TlsServer":
        pki = os.path.join(self.workdir, "pki")
        # A name of its own: two CAs with one subject would shadow each other in a trust store.
        ca, ca_key, ca_cert = make_ca(pki, f"mason test web CA {uuid.uuid4().hex[:8]}")
        server_cert = make_server_cert(pki, ca_key, ca_cert)
        self.ca_file = ca.cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(server_cert.cert, server_cert.key)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
