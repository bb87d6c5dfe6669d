"""Run the real CNCF distribution registry (``docker-registry serve``) for tests.

Three variants: plain HTTP without auth, TLS with htpasswd basic auth, and token auth with
:class:`~tests.support.token_issuer.TokenIssuer`. Each listens on 127.0.0.1 at a free
port with its own storage directory and is stopped by :meth:`RegistryServer.stop`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from tests.support.certs import make_ca, make_server_cert, make_signing_cert
from tests.support.token_issuer import TokenIssuer, User

REGISTRY_BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
DEFAULT_USER = "mason"
DEFAULT_PASSWORD = "s3cret-Passw0rd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RegistryServer:
    workdir: str
    variant: str = "plain"                    # "plain" | "tls" | "token"
    username: str | None = None
    password: str | None = None
    users: dict[str, User] = field(default_factory=dict)
    port: int = 0
    ca_file: str | None = None
    issuer: TokenIssuer | None = None
    process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.variant == "tls" else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def storage(self) -> str:
        return os.path.join(self.workdir, "storage")

    def docker_config(self, directory: str, *, username: str | None = None, password: str | None = None,
                      key: str | None = None) -> str:
        """Write a Kaniko-style ``config.json`` for this registry; returns the directory (for DOCKER_CONFIG)."""
        os.makedirs(directory, exist_ok=True)
        user = username if username is not None else self.username
        secret = password if password is not None else self.password
        auths = {}
        if user is not None:
            auths[key or self.host] = {"auth": base64.b64encode(f"{user}:{secret}".encode()).decode()}
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump({"auths": auths}, f)
        return directory

    # -- lifecycle ----------------------------------------------------------------------------
    def _config(self) -> str:
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.storage}",
            "  delete:",
            "    enabled: true",
            "  cache:",
            "    blobdescriptor: inmemory",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: mason-test-secret",
        ]
        if self.variant == "tls":
            ca_files, ca_key, ca_cert = make_ca(os.path.join(self.workdir, "pki"))
            server = make_server_cert(os.path.join(self.workdir, "pki"), ca_key, ca_cert)
            self.ca_file = ca_files.cert
            lines += ["  tls:", f"    certificate: {server.cert}", f"    key: {server.key}"]
            htpasswd = os.path.join(self.workdir, "htpasswd")
            for name, user in self.users.items():
                flags = "-Bbc" if not os.path.exists(htpasswd) else "-Bb"
                subprocess.run(["htpasswd", flags, htpasswd, name, user.password], check=True,
                               capture_output=True)
            lines += ["auth:", "  htpasswd:", "    realm: mason-test", f"    path: {htpasswd}"]
        elif self.variant == "token":
            signing, key, cert = make_signing_cert(os.path.join(self.workdir, "pki"))
            self.issuer = TokenIssuer(key=key, cert=cert, service="mason-test-registry", users=self.users).start()
            lines += ["auth:", "  token:", f"    realm: {self.issuer.realm}", "    service: mason-test-registry",
                      f"    issuer: {self.issuer.issuer}", f"    rootcertbundle: {signing.cert}"]
        elif self.variant != "plain":
            raise ValueError(f"unknown registry variant {self.variant!r}")
        path = os.path.join(self.workdir, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 20.0) -> "RegistryServer":
        os.makedirs(self.storage, exist_ok=True)
        self.port = self.port or free_port()
        config = self._config()
        log = open(os.path.join(self.workdir, "registry.log"), "wb")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no REGISTRY_* overrides from outside
        self.process = subprocess.Popen([REGISTRY_BINARY, "serve", config], stdout=log, stderr=subprocess.STDOUT,
                                        env=env)
        log.close()
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {self.process.returncode}: {self.log()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=2, context=context).close()
                return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"docker-registry did not answer on {self.url} within {timeout}s: {self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        try:
            with open(os.path.join(self.workdir, "registry.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.issuer is not None:
            self.issuer.stop()


def start_registry(workdir: str, variant: str) -> RegistryServer:
    """Start a registry of ``variant``; auth variants get user DEFAULT_USER with push/pull on everything,
    plus "reader" (pull only everywhere) and, for token auth, per-repository grants as configured."""
    users = {}
    username = password = None
    if variant in ("tls", "token"):
        username, password = DEFAULT_USER, DEFAULT_PASSWORD
        users = {DEFAULT_USER: User(DEFAULT_PASSWORD, {"*": {"pull", "push"}}),
                 "reader": User("reader-pass", {"*": {"pull"}}),
                 "private": User("private-pass", {"private/*": {"pull", "push"}})}
    return RegistryServer(workdir=workdir, variant=variant, username=username, password=password,
                          users=users).start()


def client_options(server: RegistryServer, **overrides):
    """``RegistryOptions`` that reach ``server``: plain HTTP for plain/token, its CA for TLS."""
    from mason.registry import RegistryHostOptions, RegistryOptions

    if server.variant == "tls":
        return RegistryOptions(hosts={server.host: RegistryHostOptions(ca_files=(server.ca_file,))}, **overrides)
    return RegistryOptions(insecure_registries=frozenset({server.host}), **overrides)


def client_for(server: RegistryServer, *, username: str | None = None, password: str | None = None, **overrides):
    """A ``RegistryClient`` for ``server`` with its default user's (or the given) credentials."""
    from mason.registry import Credential, RegistryClient, StaticKeychain

    user = username if username is not None else server.username
    secret = password if password is not None else server.password
    keychain = StaticKeychain({server.host: Credential(user, secret)}) if user else None
    return RegistryClient(keychain=keychain, options=client_options(server, **overrides))
