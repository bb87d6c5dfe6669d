"""The CA certificates a build trusts, loaded once and shared by every HTTPS client.

A pipeline adds a private CA the way it would for Kaniko: ``SSL_CERT_FILE`` (a file),
``SSL_CERT_DIR`` (colon-separated directories) or a bundle dropped into ``/kaniko/ssl/certs``
(GitLab's documented recipe appends ``$CI_SERVER_TLS_CA_FILE`` to
``/kaniko/ssl/certs/additional-ca-cert-bundle.crt``). Go, and so Kaniko, reads every file of
such a directory that holds PEM certificates, whatever its name; so does mason. These CAs
are trusted *in addition to* the system roots: a job that adds its company CA must still
reach Docker Hub.

Registries, ``https://`` contexts, ``--dockerfile https://…``, ``ADD https://…``, git over
HTTPS and ``mason warm`` all take their ``ssl.SSLContext`` (or, for git, a bundle file) from
one ``TlsTrust``, so no client can forget a CA. The value reads the environment mapping it is
given, never ``os.environ`` (two builds in one process may trust different CAs); the system
roots come from OpenSSL's compiled-in locations, not from its own reading of
``SSL_CERT_FILE``, for the same reason.
"""

from __future__ import annotations

import binascii
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mason.errors import UsageError

KANIKO_CERTS_DIR = "/kaniko/ssl/certs"
# Tests (and images laid out differently) point this elsewhere instead of writing to /kaniko.
KANIKO_CERTS_ENV = "MASON_KANIKO_CERTS_DIR"
_BEGIN = b"-----BEGIN CERTIFICATE-----"
_END = b"-----END CERTIFICATE-----"
_MAX_CA_FILE = 16 << 20
_LISTED = 6   # directories with more files are summarised in messages


@dataclass(frozen=True)
class CaSource:
    """Where some trusted certificates came from: a file, and the setting that named it."""

    origin: str     # "system", "SSL_CERT_FILE", "SSL_CERT_DIR", KANIKO_CERTS_DIR, ...
    path: str
    pem: bytes = field(default=b"", repr=False, compare=False)


def _certificates(path: Path, origin: str, *, required: bool) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_CA_FILE)
    except OSError as exc:
        raise UsageError(f"{origin}: cannot read {path}: {exc.strerror}") from None
    blocks = pem_blocks(data)
    if required and not blocks:
        raise UsageError(f"{origin}={path}: no PEM certificate in it")
    return b"\n".join(blocks) + b"\n" if blocks else b""


def pem_blocks(data: bytes) -> list[bytes]:
    """The certificate blocks of ``data``, each from its BEGIN line to its END line: the BEGIN
    marker, a line break, at least one byte, a line break, the END marker (what the regex
    ``BEGIN\\r?\\n.+?\\r?\\nEND`` finds). A byte scan, not that regex: its lazy ``.+?``
    costs ~5 ms over a 200 KB system bundle, and an image's bundle is scanned at every start."""
    blocks: list[bytes] = []
    pos = 0
    while (start := data.find(_BEGIN, pos)) >= 0:
        body = start + len(_BEGIN)
        if data.startswith(b"\r\n", body):
            body += 2
        elif data.startswith(b"\n", body):
            body += 1
        else:
            pos = start + 1
            continue
        end = data.find(_END, body)
        while end >= 0 and not (data[end - 1:end] == b"\n" and end - 1 > body):
            end = data.find(_END, end + 1)
        if end < 0:
            break
        blocks.append(data[start:end + len(_END)])
        pos = end + len(_END)
    return blocks


def _directory(directory: Path, origin: str) -> list[CaSource]:
    found = []
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise UsageError(f"{origin}: cannot list {directory}: {exc.strerror}") from None
    for entry in entries:
        if entry.is_file():
            pem = _certificates(entry, origin, required=False)
            if pem:
                found.append(CaSource(origin, str(entry), pem))
    return found


def env_ca_sources(env: Mapping[str, str], *, kaniko_certs_dir: str | None = None,
                   system: tuple[str | None, str | None] = (None, None)) -> tuple[CaSource, ...]:
    """The extra CAs ``env`` names, in order: SSL_CERT_FILE, SSL_CERT_DIR, the Kaniko directory.

    A variable naming a missing file or directory is an error (a typo there would otherwise
    surface later as an untrusted certificate); the Kaniko directory is simply absent outside
    a Kaniko-style image. The same file reached twice (``/etc/ssl/certs`` is full of links)
    is read once, and the ``system`` file and directory (often what the variables name
    anyway) are not read again.
    """
    system_real = {os.path.realpath(p) for p in system if p}
    sources: list[CaSource] = []
    if env.get("SSL_CERT_FILE"):
        path = Path(env["SSL_CERT_FILE"])
        if not path.is_file():
            raise UsageError(f"SSL_CERT_FILE={path}: no such file")
        if os.path.realpath(path) not in system_real:
            sources.append(CaSource("SSL_CERT_FILE", str(path),
                                    _certificates(path, "SSL_CERT_FILE", required=True)))
    for directory in filter(None, env.get("SSL_CERT_DIR", "").split(":")):
        if not Path(directory).is_dir():
            raise UsageError(f"SSL_CERT_DIR: {directory} is not a directory")
        if os.path.realpath(directory) not in system_real:
            sources += _directory(Path(directory), "SSL_CERT_DIR")
    kaniko = kaniko_certs_dir or env.get(KANIKO_CERTS_ENV) or KANIKO_CERTS_DIR
    if Path(kaniko).is_dir():
        sources += _directory(Path(kaniko), kaniko)
    seen: set[str] = set(system_real)
    unique = []
    for source in sources:
        real = os.path.realpath(source.path)
        if real not in seen:
            seen.add(real)
            unique.append(source)
    return tuple(unique)


def _system_paths() -> tuple[str | None, str | None]:
    """OpenSSL's compiled-in CA file and directory (not its environment overrides), or certifi's
    bundle when the system has none (a minimal image without ca-certificates)."""
    paths = ssl.get_default_verify_paths()
    cafile = paths.openssl_cafile if paths.openssl_cafile and os.path.isfile(paths.openssl_cafile) else None
    capath = paths.openssl_capath if paths.openssl_capath and os.path.isdir(paths.openssl_capath) else None
    if cafile is None and capath is None:
        try:
            import certifi
        except ImportError:
            return None, None
        return certifi.where(), None
    return cafile, capath


@dataclass(frozen=True, eq=False)
class TlsTrust:
    """The system roots plus ``extra`` CAs; ``context()`` hands out ready ``SSLContext``s."""

    extra: tuple[CaSource, ...] = ()
    system_file: str | None = None
    system_dir: str | None = None
    _base: ssl.SSLContext | None = field(default=None, repr=False)
    _base_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, kaniko_certs_dir: str | None = None) -> "TlsTrust":
        """The trust for one build: call once, pass the value to every client."""
        system = _system_paths()
        return cls.of(env_ca_sources(env, kaniko_certs_dir=kaniko_certs_dir, system=system), system=system)

    @classmethod
    def of(cls, extra: tuple[CaSource, ...] = (), *,
           system: tuple[str | None, str | None] | None = None) -> "TlsTrust":
        """The system roots plus ``extra`` (nothing else: no environment is read)."""
        system_file, system_dir = system if system is not None else _system_paths()
        trust = cls(extra=tuple(extra), system_file=system_file, system_dir=system_dir)
        # A malformed extra CA is refused now, before anything runs, by a structural check:
        # loading it into OpenSSL would load the system roots too (~0.05 s of CPU at every
        # start, in an image whose /kaniko/ssl/certs bundle makes ``extra`` non-empty), and
        # a block that passes the check but not OpenSSL still fails, naming it, at first use.
        for source in trust.extra:
            _check_der(source.pem, f"{source.origin}: {source.path}")
        return trust

    # -- contexts ---------------------------------------------------------------------------------
    def _new_context(self, extra_files: tuple[str, ...] = ()) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies certificate and host name
        if self.system_file or self.system_dir:
            context.load_verify_locations(cafile=self.system_file, capath=self.system_dir)
        for source in self.extra:
            _load(context, source.pem, f"{source.origin}: {source.path}")
        for path in extra_files:
            _load(context, _certificates(Path(path), "CA file", required=True), path)
        return context

    def context(self, *, ca_files: tuple[str, ...] = (), client_cert: str | None = None,
                client_key: str | None = None, verify: bool = True) -> ssl.SSLContext:
        """The shared context, or a new one when a host adds its own CA, a client certificate,
        or skips verification (those must not leak into other hosts' connections)."""
        if not ca_files and not client_cert and verify:
            return self._shared()
        context = self._new_context(tuple(ca_files))
        if client_cert:
            context.load_cert_chain(client_cert, client_key)
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _shared(self) -> ssl.SSLContext:
        """The shared context, made at its first use: loading the system roots is ~0.05 s of
        CPU, which a build that speaks only plain HTTP (a loopback registry) never needs."""
        with self._base_lock:
            if self._base is None:
                object.__setattr__(self, "_base", self._new_context())
            assert self._base is not None
            return self._base

    # -- what was trusted -------------------------------------------------------------------------
    def tried(self, ca_files: tuple[str, ...] = ()) -> str:
        """The CA files in use, for an error message: each file, or a directory's count."""
        parts = [f"system {p}" for p in (self.system_file, self.system_dir) if p]
        by_origin: dict[str, list[str]] = {}
        for source in self.extra:
            by_origin.setdefault(source.origin, []).append(source.path)
        for origin, paths in by_origin.items():
            if len(paths) > _LISTED:
                dirs = sorted({os.path.dirname(p) for p in paths})
                parts.append(f"{origin} {', '.join(dirs)} ({len(paths)} files)")
            else:
                parts += [f"{origin} {p}" if origin in ("SSL_CERT_FILE", "SSL_CERT_DIR") else p for p in paths]
        parts += list(ca_files)
        return "; ".join(parts) or "none (no system CA certificates found)"

    def bundle(self) -> bytes:
        """Every trusted certificate as one PEM bundle: git (curl) takes a single CA file, which
        replaces its defaults, so the bundle carries the system roots too."""
        chunks = []
        if self.system_file:
            chunks.append(_certificates(Path(self.system_file), "system CA file", required=False))
        elif self.system_dir:
            chunks += [s.pem for s in _directory(Path(self.system_dir), "system CA directory")]
        chunks += [s.pem for s in self.extra]
        return b"".join(chunks)


def _check_der(pem: bytes, label: str) -> None:
    """Each PEM block of ``pem`` decodes to one whole DER SEQUENCE (what a certificate is),
    else the error ``_load`` gives for it."""
    for block in pem_blocks(pem):
        body = block[len(_BEGIN):-len(_END)]
        try:
            der = binascii.a2b_base64(b"".join(body.split()), strict_mode=True)
        except binascii.Error as exc:
            raise UsageError(f"{label}: not a valid PEM certificate (base64: {exc})") from None
        problem = _der_sequence_problem(der)
        if problem:
            raise UsageError(f"{label}: not a valid PEM certificate ({problem})")


def _der_sequence_problem(der: bytes) -> str | None:
    if len(der) < 2 or der[0] != 0x30:
        return "not a DER sequence"
    first = der[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return "bad DER length"
        header, length = 2 + count, int.from_bytes(der[2:2 + count], "big")
    if header + length != len(der):
        return f"DER length {length} but {len(der) - header} bytes"
    return None


def _load(context: ssl.SSLContext, pem: bytes, label: str) -> None:
    try:
        context.load_verify_locations(cadata=pem.decode("ascii", "replace"))
    except ssl.SSLError as exc:
        raise UsageError(f"{label}: not a valid PEM certificate ({exc.reason or exc})") from None
