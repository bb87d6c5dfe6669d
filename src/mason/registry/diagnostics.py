"""Turn a registry's error answer into a mason error carrying the registry's own codes.

The distribution spec answers errors as ``{"errors": [{"code": "...", "message": "...",
"detail": ...}]}``; those codes (MANIFEST_UNKNOWN, DENIED, ...) are what users search for,
so they go into the message and into ``RegistryError.codes``.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import requests

from mason.errors import AuthError, NotFoundError, RegistryError
from mason.registry.redact import redact

# Statuses worth retrying: the server or something in between may do better next time.
TEMPORARY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_AUTH_CODES = {"UNAUTHORIZED", "DENIED"}
_NOT_FOUND_CODES = {"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
_MAX_BODY_IN_MESSAGE = 300


def display_url(url: str) -> str:
    """``url`` without user info or query string (upload states and tokens live there)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def parse_error_body(body: bytes | str | None) -> list[tuple[str, str]]:
    """``[(code, message), ...]`` from a registry error body; empty when it is not one."""
    if not body:
        return []
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        # token servers answer {"details": "..."} or {"error": "...", "error_description": "..."}
        if isinstance(doc, dict):
            for key in ("details", "error_description", "error", "message"):
                if isinstance(doc.get(key), str):
                    return [("", doc[key])]
        return []
    result = []
    for item in errors:
        if isinstance(item, dict):
            result.append((str(item.get("code") or ""), str(item.get("message") or "")))
    return result


def error_for_status(*, registry: str, method: str, url: str, status: int, reason: str = "",
                     body: bytes | str | None = None, what: str | None = None,
                     secrets: tuple[str | None, ...] = ()) -> RegistryError:
    """Build the right ``RegistryError`` subclass for an HTTP error answer."""
    entries = parse_error_body(body)
    codes = tuple(code for code, _ in entries if code)
    if entries:
        detail = "; ".join(f"{code}: {msg}" if code else msg for code, msg in entries)
    else:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        detail = text.strip()[:_MAX_BODY_IN_MESSAGE]
    shown_url = display_url(url)
    subject = f" ({what})" if what else ""
    message = f"registry {registry}: {method} {shown_url}{subject} failed: HTTP {status}"
    if reason:
        message += f" {reason}"
    if detail:
        message += f": {detail}"
    message = redact(message, secrets)
    kwargs = dict(status=status, codes=codes, method=method, url=shown_url)
    if status in (401, 403) or _AUTH_CODES.intersection(codes):
        return AuthError(message, hint=f"check the credentials for {registry} (docker config.json, credential "
                                       "helper or CI_REGISTRY_* variables) and that they may access this repository",
                         **kwargs)
    if status == 404 or _NOT_FOUND_CODES.intersection(codes):
        return NotFoundError(message, **kwargs)
    return RegistryError(message, temporary=status in TEMPORARY_STATUSES, **kwargs)


def error_from_response(response: requests.Response, *, registry: str, what: str | None = None,
                        secrets: tuple[str | None, ...] = ()) -> RegistryError:
    """``error_for_status`` for a received response (reads at most a small body)."""
    method = response.request.method if response.request is not None else "?"
    body = b""
    if method != "HEAD":
        try:
            body = next(response.iter_content(64 * 1024), b"")
        except Exception:  # the body only decorates the message; a broken one must not hide the status
            body = b""
    return error_for_status(registry=registry, method=method or "?", url=response.url or "",
                            status=response.status_code, reason=response.reason or "", body=body, what=what,
                            secrets=secrets)


def connection_error(exc: BaseException, *, registry: str, method: str, url: str,
                     secrets: tuple[str | None, ...] = (), tls: str | None = None) -> RegistryError:
    """A ``RegistryError`` for a transport failure (refused, reset, TLS, timeout); ``tls``
    describes a TLS failure (the host, the reason, the CA files tried)."""
    shown = display_url(url)
    text = redact(f"registry {registry}: {method} {shown} failed: {type(exc).__name__}: {exc}", secrets)
    hint = None
    if isinstance(exc, requests.exceptions.SSLError):
        if tls:
            text = redact(f"registry {registry}: {method} {shown} failed: {tls}", secrets)
        hint = (f"if {registry} uses a private CA, pass its certificate (--registry-certificate, "
                f"SSL_CERT_FILE or SSL_CERT_DIR in the job's variables, or a file in /kaniko/ssl/certs); "
                f"if it serves plain HTTP, mark it insecure (--insecure-registry {registry})")
        return RegistryError(text, method=method, url=shown, temporary=False, hint=hint)
    return RegistryError(text, method=method, url=shown, temporary=True, hint=hint)
