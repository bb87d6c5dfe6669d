"""An in-memory stand-in for mason.registry.RegistryClient (same method signatures), so the
remote source/sink logic is unit-tested without a network. Integration tests use the real
registry and client."""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, replace

from mason.errors import NotFoundError


@dataclass(frozen=True)
class Ref:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self):
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self):
        return self.digest or self.tag or "latest"

    def with_tag(self, tag):
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest):
        return replace(self, digest=digest)

    def repo(self):
        return Ref(self.registry, self.repository)

    def __str__(self):
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


class FakeClient:
    def __init__(self, *, refuse_mounts=False):
        self.blobs: dict[tuple[str, str], bytes] = {}           # (registry/repo, digest) -> data
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}   # (registry/repo, id) -> (raw, type)
        self.calls: list[tuple] = []
        self.refuse_mounts = refuse_mounts
        self.corrupt: set[str] = set()
        self.lock = threading.Lock()
        self.concurrent = 0
        self.max_concurrent = 0

    def get_manifest(self, ref, accept):
        self.calls.append(("get_manifest", str(ref)))
        try:
            raw, mt = self.manifests[(ref.name, ref.identifier)]
        except KeyError:
            raise NotFoundError(f"{ref}: MANIFEST_UNKNOWN", codes=("MANIFEST_UNKNOWN",)) from None
        return raw, mt, "sha256:" + hashlib.sha256(raw).hexdigest()

    def put_manifest(self, ref, data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self.lock:
            self.calls.append(("put_manifest", str(ref)))
            for key in (ref.tag, ref.digest, digest):
                if key:
                    self.manifests[(ref.name, key)] = (data, media_type)
        return digest

    def blob_size(self, repo, digest):
        data = self.blobs.get((repo.name, digest))
        return None if data is None else len(data)

    def open_blob(self, repo, digest, size=None):
        try:
            data = self.blobs[(repo.name, digest)]
        except KeyError:
            raise NotFoundError(f"{repo}: BLOB_UNKNOWN {digest}", codes=("BLOB_UNKNOWN",)) from None
        if digest in self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return io.BytesIO(data)

    def upload_blob(self, repo, digest, size, source, *, chunk_size=None):
        with self.lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
            self.calls.append(("upload_blob", repo.name, digest))
        try:
            stream = source() if callable(source) else io.BytesIO(source)
            data = b""
            while chunk := stream.read(1 << 16):
                data += chunk
            import time

            time.sleep(0.01)
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest or len(data) != size:
                raise AssertionError("fake registry received wrong bytes")
            self.blobs[(repo.name, digest)] = data
        finally:
            with self.lock:
                self.concurrent -= 1

    def mount_blob(self, repo, digest, from_repo):
        self.calls.append(("mount_blob", repo.name, digest, from_repo.name))
        if self.refuse_mounts or (from_repo.name, digest) not in self.blobs:
            return False
        self.blobs[(repo.name, digest)] = self.blobs[(from_repo.name, digest)]
        return True

    def list_tags(self, repo):
        return sorted({k[1] for k in self.manifests if k[0] == repo.name and not k[1].startswith("sha256:")})
