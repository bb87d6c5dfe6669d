"""Downloading one URL to a file (ADD <url>, https:// tarball contexts).

The body streams to a file in the caller's directory while it is hashed, so the
checksum of ``ADD --checksum`` is verified without reading the file twice. The
session is a parameter (a build's own ``requests.Session``, or a test double).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import unquote, urlsplit

from mason.fetch.git import redact_url
from mason.errors import BuildError

CHUNK = 1 << 20
TIMEOUT = (30, 300)  # connect, read


@dataclass(frozen=True)
class Download:
    """A file ADD downloaded: where it is, its size and digest, the name it takes."""

    path: str
    size: int
    digest: str  # "<algo>:<hex>" of the algorithm asked for (sha256 by default)
    last_modified_ns: int | None
    filename: str  # the name ADD gives the file (url_filename)

# BuildKit's dockerfile2llb: the name of a download whose URL path has no last component
UNNAMED = "__unnamed__"


def url_filename(url: str) -> str:
    """The file name ADD <url> gives the download, as BuildKit's frontend names it: the URL
    path's last component (Go's ``path.Base``, so a trailing slash is dropped first), else
    ``__unnamed__``. The frontend always passes this name to its HTTP source, so a
    ``Content-Disposition`` header never names the file."""
    name = posixpath.basename(unquote(urlsplit(url).path).rstrip("/"))
    return name if name not in ("", ".") else UNNAMED


def download(url: str, dest_file: str, *, session=None, algorithm: str = "sha256", tls=None) -> Download:
    """GET ``url`` into ``dest_file`` (created 0600); raise BuildError naming the URL on failure.

    Without a ``session``, one is made that trusts ``tls`` (a ``mason.tls.TlsTrust``; the
    system roots when None). A TLS failure names the host and the CA files tried.
    """
    import requests

    from mason.tls import TlsTrust
    from mason.tls.session import tls_failure_text, trusted_session

    shown = redact_url(url)
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise BuildError(f"unsupported checksum algorithm {algorithm!r} for {shown!r} "
                         "(supported: sha256, sha384, sha512)")
    trust = tls if tls is not None else TlsTrust.of()
    sess = session or trusted_session(trust)
    try:
        with sess.get(url, stream=True, timeout=TIMEOUT, allow_redirects=True) as resp:
            if resp.status_code != 200:
                raise BuildError(f"download of {shown!r} failed: HTTP {resp.status_code} {resp.reason}")
            h = hashlib.new(algorithm)
            size = 0
            fd = os.open(dest_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in resp.iter_content(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            modified = _last_modified(resp.headers.get("Last-Modified"))
    except requests.exceptions.SSLError as exc:
        raise BuildError(f"download of {shown!r} failed: {tls_failure_text(url, exc, trust)}",
                         hint="add the server's CA with SSL_CERT_FILE, SSL_CERT_DIR or a file in "
                              "/kaniko/ssl/certs") from None
    except requests.RequestException as exc:
        raise BuildError(f"download of {shown!r} failed: {type(exc).__name__}") from None
    finally:
        if session is None:
            sess.close()
    return Download(dest_file, size, f"{algorithm}:{h.hexdigest()}", modified, url_filename(url))


def _last_modified(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp()) * 1_000_000_000
    except (TypeError, ValueError):
        return None
