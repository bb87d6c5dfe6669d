"""The registry client: the distribution API operations mason needs, nothing more.

Reads ask for ``pull`` scope, writes for ``pull,push``, mounts for both repositories. Every
byte received is checked against its digest; blobs are streamed in both directions so
memory stays bounded whatever their size. One client is shared by concurrent transfers.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO
from urllib.parse import quote, urljoin

import requests

from mason.errors import AuthError, DigestMismatchError, ImageError, RegistryError
from mason.oci.digest import VerifyingReader, digest_bytes, verify_bytes
from mason.oci.reference import Reference, registry_api_host, validate_digest
from mason.registry.auth import Authenticator, pull_scope, push_scope
from mason.registry.interrupt import TransferCancelled
from mason.registry.diagnostics import error_from_response
from mason.registry.download import ResumingBody
from mason.registry.keychain import Keychain
from mason.registry.options import RegistryOptions
from mason.registry.redact import RedactingFilter
from mason.registry.transport import Transport
from mason.registry.upload import Source, body_factory, location_url, with_query

# Manifests are small documents; refusing huge ones keeps a hostile registry from exhausting memory.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
_READ_CHUNK = 1 << 20
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RegistryClient:
    def __init__(self, *, keychain: Keychain | None = None, options: RegistryOptions | None = None,
                 session: requests.Session | None = None, logger: logging.Logger | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 cancel=None):
        """``cancel``: the build's ``mason.cancel.CancelToken``; setting it cuts every request
        in flight (``mason.registry.transport``) and stops blob and manifest reads."""
        self.options = options or RegistryOptions()
        self._cancel = cancel
        self.logger = logger or logging.getLogger("mason.registry")
        if not any(isinstance(f, RedactingFilter) for f in self.logger.filters):
            self.logger.addFilter(RedactingFilter())
        self._transport = Transport(self.options, session=session, logger=self.logger, sleep=sleep, clock=clock,
                                    wall_clock=wall_clock, rng=rng, cancel=cancel)
        self._auth = Authenticator(keychain, self._transport, clock=clock)
        # One ``GET /v2/`` per registry at a time: the push pre-flight's checks (each
        # destination, the cache repository) start together on one client and each pinged.
        self._pinging: dict[str, threading.Lock] = {}
        self._pinging_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------
    def _url(self, registry: str, path: str) -> str:
        return f"{self._transport.base_url(registry_api_host(registry))}/v2/{path}"

    def _ensure_challenge(self, registry: str) -> None:
        if self._auth.knows(registry):
            return
        with self._pinging_lock:
            gate = self._pinging.setdefault(registry, threading.Lock())
        with gate:                        # whoever waited here finds the challenge just learned
            if not self._auth.knows(registry):
                self.ping(registry)

    def _request(self, method: str, registry: str, url: str, scopes: Sequence[str], **kwargs) -> requests.Response:
        self._ensure_challenge(registry)
        return self._transport.request(
            method, url, registry=registry,
            authorize=lambda: self._auth.authorization(registry, scopes),
            on_unauthorized=lambda response: self._auth.on_unauthorized(registry, scopes, response),
            secrets=lambda: self._auth.secrets(registry), **kwargs)

    def _error(self, response: requests.Response, registry: str, what: str) -> RegistryError:
        with response:
            return error_from_response(response, registry=registry, what=what,
                                       secrets=self._auth.secrets(registry))

    # -- API ----------------------------------------------------------------------------------
    def ping(self, registry: str) -> None:
        """``GET /v2/``: checks the registry answers the v2 API and learns its auth challenge."""
        url = self._url(registry, "")
        with self._transport.request("GET", url, registry=registry,
                                     secrets=lambda: self._auth.secrets(registry)) as response:
            if response.status_code == 401:
                self._auth.learn(registry, response.headers.get("WWW-Authenticate"))
                return
            if response.status_code != 200:
                raise error_from_response(response, registry=registry, what="API version check")
            self._auth.learn(registry, None)

    def _manifest_url(self, ref: Reference) -> str:
        return self._url(ref.registry, f"{ref.repository}/manifests/{quote(ref.identifier, safe=':')}")

    def get_manifest(self, ref: Reference, accept: Sequence[str]) -> tuple[bytes, str, str]:
        headers = {"Accept": ", ".join(accept)}
        response = self._request("GET", ref.registry, self._manifest_url(ref), [pull_scope(ref.repository)],
                                 headers=headers, stream=True)
        if response.status_code != 200:
            raise self._error(response, ref.registry, f"manifest {ref}")
        try:
            with response:
                data = _read_limited(response, MAX_MANIFEST_SIZE, what=f"manifest {ref}")
                media_type = _media_type(response)
                header_digest = response.headers.get("Docker-Content-Digest")
        except (requests.exceptions.RequestException, OSError):
            if self._cancel is not None and self._cancel.is_set():
                raise TransferCancelled(f"download of manifest {ref} cancelled: the build is stopping") from None
            raise
        if self._cancel is not None and self._cancel.is_set():
            raise TransferCancelled(f"download of manifest {ref} cancelled: the build is stopping")
        if ref.digest:
            verify_bytes(data, ref.digest, None, f"manifest {ref}")
            return data, media_type, ref.digest
        digest = digest_bytes(data)
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatchError(f"manifest {ref} from {ref.registry}: content has digest {digest}, "
                                      f"registry says {header_digest}")
        return data, media_type, digest

    def head_manifest(self, ref: Reference, accept: Sequence[str]) -> tuple[str, str, int] | None:
        response = self._request("HEAD", ref.registry, self._manifest_url(ref), [pull_scope(ref.repository)],
                                 headers={"Accept": ", ".join(accept)})
        with response:
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise self._error(response, ref.registry, f"manifest {ref}")
            digest = response.headers.get("Docker-Content-Digest")
            size = response.headers.get("Content-Length")
            media_type = _media_type(response)
        if not digest or size is None or not size.isdigit():
            # Some registries omit the headers on HEAD: fall back to fetching the manifest.
            data, media_type, digest = self.get_manifest(ref, accept)
            return digest, media_type, len(data)
        if ref.digest and digest != ref.digest:
            raise DigestMismatchError(f"manifest {ref}: registry {ref.registry} reports digest {digest}")
        return validate_digest(digest, what=f"digest of {ref} reported by {ref.registry}"), media_type, int(size)

    def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> str:
        digest = digest_bytes(data) if not ref.digest else ref.digest
        if ref.digest:
            verify_bytes(data, ref.digest, None, f"manifest for {ref}")
        target = ref if ref.digest or ref.tag else ref.with_digest(digest)
        response = self._request("PUT", ref.registry, self._manifest_url(target), [push_scope(ref.repository)],
                                 headers={"Content-Type": media_type}, body=lambda: data)
        with response:
            if response.status_code not in (200, 201, 202):
                raise self._error(response, ref.registry, f"manifest {target}")
            returned = response.headers.get("Docker-Content-Digest")
        if returned and returned.split(":")[0] == digest.split(":")[0] and returned != digest:
            raise DigestMismatchError(f"registry {ref.registry} stored manifest {target} as {returned}, "
                                      f"but its content has digest {digest}")
        return digest

    def _blob_url(self, repo: Reference, digest: str) -> str:
        return self._url(repo.registry, f"{repo.repository}/blobs/{validate_digest(digest)}")

    def blob_size(self, repo: Reference, digest: str) -> int | None:
        response = self._request("HEAD", repo.registry, self._blob_url(repo, digest), [pull_scope(repo.repository)])
        with response:
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise self._error(response, repo.registry, f"blob {digest} in {repo.name}")
            size = response.headers.get("Content-Length")
        if size is None or not size.isdigit():
            raise RegistryError(f"registry {repo.registry}: HEAD of blob {digest} in {repo.name} gave no size")
        return int(size)

    def open_blob(self, repo: Reference, digest: str, size: int | None = None) -> BinaryIO:
        """The blob as a verifying stream; a connection cut mid-body is resumed (``ResumingBody``)."""
        url = self._blob_url(repo, digest)
        scopes = [pull_scope(repo.repository)]
        response = self._request("GET", repo.registry, url, scopes, stream=True)
        if response.status_code != 200:
            raise self._error(response, repo.registry, f"blob {digest} in {repo.name}")
        if size is None and response.headers.get("Content-Length", "").isdigit():
            size = int(response.headers["Content-Length"])
        body = ResumingBody(response, lambda headers: self._request("GET", repo.registry, url, scopes,
                                                                    headers=headers, stream=True),
                            self._transport.retrier(), expected_size=size,
                            what=f"download of blob {digest} from {repo.name}", registry=repo.registry,
                            cancelled=self._transport.cancelled)
        reader = VerifyingReader(body.read, digest, size, f"blob {digest} from {repo.name}",
                                 on_close=body.close, drain_on_close=True)
        return reader  # type: ignore[return-value]

    def _start_upload(self, repo: Reference, scopes: Sequence[str], query: str = "") -> requests.Response:
        url = self._url(repo.registry, f"{repo.repository}/blobs/uploads/") + query
        return self._request("POST", repo.registry, url, scopes, headers={"Content-Length": "0"})

    def upload_blob(self, repo: Reference, digest: str, size: int, source: Source, *,
                    chunk_size: int | None = None) -> None:
        validate_digest(digest)
        scopes = [push_scope(repo.repository)]
        what = f"upload of blob {digest} to {repo.name}"
        response = self._start_upload(repo, scopes)
        with response:
            if response.status_code != 202:
                raise self._error(response, repo.registry, what)
            location = location_url(response.url, response.headers.get("Location"))
        if not location:
            raise RegistryError(f"registry {repo.registry}: {what}: no Location in the answer to POST")
        offset = 0
        if chunk_size is not None and chunk_size > 0:
            while offset < size:
                length = min(chunk_size, size - offset)
                response = self._request(
                    "PATCH", repo.registry, location, scopes, body=body_factory(source, offset, length),
                    headers={"Content-Type": "application/octet-stream",
                             "Content-Range": f"{offset}-{offset + length - 1}"})
                with response:
                    if response.status_code != 202:
                        raise self._error(response, repo.registry, what)
                    location = location_url(location, response.headers.get("Location")) or location
                offset += length
        remaining = size - offset
        response = self._request("PUT", repo.registry, with_query(location, digest=digest), scopes,
                                 body=body_factory(source, offset, remaining),
                                 headers={"Content-Type": "application/octet-stream"})
        with response:
            if response.status_code not in (201, 202, 204):
                raise self._error(response, repo.registry, what)
        if response.status_code != 201:
            # Not the spec's answer: make sure the registry really has the blob before going on.
            stored = self.blob_size(repo, digest)
            if stored != size:
                raise RegistryError(f"registry {repo.registry}: {what} was answered {response.status_code}, "
                                    f"but the blob is {'missing' if stored is None else f'{stored} bytes'}")

    def mount_blob(self, repo: Reference, digest: str, from_repo: Reference) -> bool:
        validate_digest(digest)
        if from_repo.registry != repo.registry:
            return False
        scopes = [push_scope(repo.repository), pull_scope(from_repo.repository)]
        query = f"?mount={quote(digest, safe=':')}&from={quote(from_repo.repository, safe='/')}"
        response = self._start_upload(repo, scopes, query)
        with response:
            if response.status_code == 201:
                return True
            if response.status_code in (401, 403):
                # Token registries refuse the whole request when the source repository's pull scope
                # was not granted; the blob can still be uploaded if push to the target is allowed
                # (and if not, the upload reports that clearly).
                self.logger.debug("mount of %s from %s refused (HTTP %s); uploading instead", digest,
                                  from_repo.name, response.status_code)
                return False
            if response.status_code != 202:
                raise self._error(response, repo.registry, f"mount of blob {digest} from {from_repo.name}")
            location = location_url(response.url, response.headers.get("Location"))
        if location:
            # The registry started an ordinary upload instead; cancel it, the caller uploads.
            self._request("DELETE", repo.registry, location, scopes).close()
        return False

    def list_tags(self, repo: Reference) -> list[str]:
        url: str | None = self._url(repo.registry, f"{repo.repository}/tags/list")
        tags: list[str] = []
        while url:
            response = self._request("GET", repo.registry, url, [pull_scope(repo.repository)])
            with response:
                if response.status_code != 200:
                    raise self._error(response, repo.registry, f"tag list of {repo.name}")
                try:
                    doc = response.json()
                except ValueError:
                    raise RegistryError(f"registry {repo.registry}: tag list of {repo.name} is not JSON") from None
                tags.extend(doc.get("tags") or [])
                link = _LINK_NEXT.search(response.headers.get("Link", ""))
                url = urljoin(url, link.group(1)) if link else None
        return tags

    def check_push_permission(self, repo: Reference) -> None:
        """Start and cancel a blob upload: the cheapest request that needs push access."""
        scopes = [push_scope(repo.repository)]
        response = self._start_upload(repo, scopes)
        with response:
            if response.status_code in (401, 403):
                error = error_from_response(response, registry=repo.registry, what="push permission check",
                                            secrets=self._auth.secrets(repo.registry))
                credential = self._auth.credential(repo.registry)
                who = (f" as {credential.username!r}" if credential.username
                       else " without credentials" if not any(credential.secrets()) else "")
                raise AuthError(f"no push access to {repo.name} on registry {repo.registry}{who}: {error.message}",
                                status=error.status, codes=error.codes, method=error.method, url=error.url,
                                hint=f"push permission denied for {repo.name}: check CI_REGISTRY_USER / the auths "
                                     f"entry for {repo.registry} in $DOCKER_CONFIG/config.json")
            if response.status_code != 202:
                raise self._error(response, repo.registry, f"push permission check for {repo.name}")
            location = location_url(response.url, response.headers.get("Location"))
        if location:
            self._request("DELETE", repo.registry, location, scopes).close()


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _read_limited(response: requests.Response, limit: int, *, what: str) -> bytes:
    chunks, total = [], 0
    for chunk in response.iter_content(_READ_CHUNK):
        total += len(chunk)
        if total > limit:
            raise ImageError(f"{what}: larger than {limit} bytes; refusing to read it")
        chunks.append(chunk)
    return b"".join(chunks)
