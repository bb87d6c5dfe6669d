"""RegistryClient against an in-process fake registry: auth flow, retries, errors, verification."""

import base64
import hashlib
import json
import random
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from mason.errors import AuthError, DigestMismatchError, NotFoundError, RegistryError
from mason.oci.reference import parse_reference
from mason.registry import Credential, RegistryClient, RegistryOptions, RetryPolicy, StaticKeychain
from tests.support.fakehttp import FakeClock, Reply, fake_session

HOST = "reg.test"
REF = parse_reference(f"{HOST}/team/app:v1")
MANIFEST = b'{"schemaVersion":2}'
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OCI = "application/vnd.oci.image.manifest.v1+json"
PASSWORD = "correct-horse-battery"


class FakeRegistry:
    """Bearer-auth registry + token service; tokens are 'tok-N' strings granting the asked scopes."""

    def __init__(self, auth="bearer"):
        self.auth = auth
        self.tokens: dict[str, set[str]] = {}
        self.token_requests: list[list[str]] = []
        self.failures: list[Reply | Exception] = []
        self.revoked: set[str] = set()

    def __call__(self, req):
        url = urlsplit(req.url)
        if url.path == "/token":
            return self.token(req, url)
        if self.failures and url.path != "/v2/":
            return self.failures.pop(0)
        header = req.headers.get("Authorization", "")
        if self.auth == "bearer":
            token = header.removeprefix("Bearer ")
            challenge = {"WWW-Authenticate": f'Bearer realm="https://{HOST}/token",service="svc"'}
            if url.path == "/v2/":
                return Reply(401, b"{}", challenge) if not header else Reply(200)
            if token not in self.tokens or token in self.revoked:
                return Reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                             challenge)
        elif self.auth == "basic":
            expected = "Basic " + base64.b64encode(f"me:{PASSWORD}".encode()).decode()
            if header != expected:
                return Reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad"}]}',
                             {"WWW-Authenticate": 'Basic realm="r"'})
            if url.path == "/v2/":
                return Reply(200)
        elif url.path == "/v2/":
            return Reply(200)
        return self.api(req, url)

    def token(self, req, url):
        query = parse_qs(url.query)
        scopes = query.get("scope", [])
        self.token_requests.append(scopes)
        expected = "Basic " + base64.b64encode(f"me:{PASSWORD}".encode()).decode()
        if req.headers.get("Authorization") != expected:
            return Reply(401, b'{"details":"incorrect username or password"}')
        value = f"tok-{len(self.tokens)}"
        self.tokens[value] = set(scopes)
        return Reply(200, json.dumps({"token": value, "expires_in": 300}).encode())

    def api(self, req, url):
        if url.path.endswith("/manifests/v1") or url.path.endswith(f"/manifests/{MANIFEST_DIGEST}"):
            return Reply(200, MANIFEST if req.method == "GET" else b"",
                         {"Content-Type": OCI, "Docker-Content-Digest": MANIFEST_DIGEST})
        if "/manifests/" in url.path:
            return Reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
        if req.method == "POST" and url.path.endswith("/blobs/uploads/"):
            if "from=team%2Fsrc" in url.query or "from=team/src" in url.query:
                return Reply(201, b"", {"Location": f"/v2/team/dst/blobs/{MANIFEST_DIGEST}"})
            return Reply(202, b"", {"Location": "/v2/team/dst/blobs/uploads/u9"})
        if req.method == "DELETE":
            return Reply(204)
        if url.path.endswith("/tags/list"):
            if "last" in url.query:
                return Reply(200, b'{"name":"team/app","tags":["c"]}')
            return Reply(200, b'{"name":"team/app","tags":["a","b"]}',
                         {"Link": '</v2/team/app/tags/list?n=2&last=b>; rel="next"'})
        return Reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')


def make_client(registry, *, credential=Credential("me", PASSWORD), retry=None, options=None):
    session, adapter = fake_session(registry)
    clock = FakeClock()
    options = options or RegistryOptions(retry=retry or RetryPolicy(jitter=0))
    client = RegistryClient(keychain=StaticKeychain({HOST: credential}), options=options, session=session,
                            sleep=clock.sleep, clock=clock, rng=random.Random(0))
    return client, adapter, clock


def test_bearer_flow_scopes_and_token_reuse():
    registry = FakeRegistry()
    client, adapter, _ = make_client(registry)
    data, media_type, digest = client.get_manifest(REF, [OCI])
    assert (data, media_type, digest) == (MANIFEST, OCI, MANIFEST_DIGEST)
    client.get_manifest(REF, [OCI])
    client.head_manifest(REF, [OCI])
    assert registry.token_requests == [["repository:team/app:pull"]]          # reused for the same scope
    client.put_manifest(REF, MANIFEST, OCI)
    assert registry.token_requests[-1] == ["repository:team/app:pull,push"]  # writes ask for pull+push
    assert adapter.seen[-1].headers["Content-Type"] == OCI
    dst = parse_reference(f"{HOST}/team/dst")
    assert client.mount_blob(dst, MANIFEST_DIGEST, parse_reference(f"{HOST}/team/src"))
    assert registry.token_requests[-1] == ["repository:team/dst:pull,push", "repository:team/src:pull"]
    assert not client.mount_blob(dst, MANIFEST_DIGEST, parse_reference(f"{HOST}/team/elsewhere"))
    assert adapter.seen[-1].method == "DELETE"   # the upload the registry started instead is cancelled


def test_refresh_once_on_401_then_fail_with_auth_error():
    registry = FakeRegistry()
    client, _, _ = make_client(registry)
    client.get_manifest(REF, [OCI])
    registry.revoked.add("tok-0")
    client.get_manifest(REF, [OCI])                  # stale token: refreshed once, succeeds
    assert len(registry.token_requests) == 2
    registry.revoked.update(registry.tokens)

    original = registry.token

    def revoking_token(req, url):
        reply = original(req, url)
        registry.revoked.update(registry.tokens)
        return reply

    registry.token = revoking_token
    with pytest.raises(AuthError) as info:
        client.get_manifest(REF, [OCI])
    assert info.value.status == 401 and "UNAUTHORIZED" in info.value.codes
    assert "registry reg.test" in str(info.value)


def test_wrong_password_names_registry_and_hides_password():
    registry = FakeRegistry()
    client, _, _ = make_client(registry, credential=Credential("me", "wrong-password-123"))
    with pytest.raises(AuthError) as info:
        client.get_manifest(REF, [OCI])
    message = str(info.value)
    assert "reg.test" in message and "user 'me'" in message and "incorrect username or password" in message
    assert "wrong-password-123" not in message + str(info.value.hint)


def test_basic_auth():
    registry = FakeRegistry(auth="basic")
    client, adapter, _ = make_client(registry)
    assert client.get_manifest(REF, [OCI])[2] == MANIFEST_DIGEST
    assert adapter.seen[-1].headers["Authorization"].startswith("Basic ")
    bad, _, _ = make_client(registry, credential=Credential("me", "nope-nope"))
    with pytest.raises(AuthError, match="reg.test"):
        bad.get_manifest(REF, [OCI])


@pytest.mark.parametrize("failure", [
    Reply(503, b"busy"), Reply(502), Reply(500), Reply(408), Reply(429, b"", {"Retry-After": "3"}),
    requests.exceptions.ConnectionError("connection reset"),
])
def test_temporary_failures_are_retried(failure):
    registry = FakeRegistry(auth=None)
    registry.failures = [failure, failure]
    client, _, clock = make_client(registry)
    assert client.get_manifest(REF, [OCI])[0] == MANIFEST
    assert len(clock.sleeps) == 2
    if isinstance(failure, Reply) and failure.status == 429:
        assert clock.sleeps == [3.0, 3.0]
    else:
        assert clock.sleeps == [0.5, 1.0]


def test_retries_give_up_with_a_temporary_error():
    registry = FakeRegistry(auth=None)
    registry.failures = [Reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"down"}]}')] * 10
    client, adapter, clock = make_client(registry, retry=RetryPolicy(max_attempts=3, jitter=0))
    with pytest.raises(RegistryError) as info:
        client.get_manifest(REF, [OCI])
    assert info.value.temporary and info.value.status == 503 and info.value.codes == ("UNAVAILABLE",)
    assert info.value.method == "GET" and info.value.url == f"https://{HOST}/v2/team/app/manifests/v1"
    assert len(clock.sleeps) == 2


def test_not_found_and_auth_errors_are_not_retried():
    registry = FakeRegistry(auth=None)
    client, adapter, clock = make_client(registry)
    with pytest.raises(NotFoundError) as info:
        client.get_manifest(REF.with_tag("missing"), [OCI])
    assert info.value.codes == ("MANIFEST_UNKNOWN",)
    assert client.head_manifest(REF.with_tag("missing"), [OCI]) is None
    assert client.blob_size(REF, MANIFEST_DIGEST) is None
    registry.failures = [Reply(403, b'{"errors":[{"code":"DENIED","message":"denied"}]}')]
    with pytest.raises(AuthError):
        client.get_manifest(REF, [OCI])
    assert clock.sleeps == []


def test_manifest_digest_is_verified():
    registry = FakeRegistry(auth=None)
    client, _, _ = make_client(registry)
    other = "sha256:" + "0" * 64
    registry.api = lambda req, url: Reply(200, MANIFEST, {"Content-Type": OCI})
    with pytest.raises(DigestMismatchError):
        client.get_manifest(REF.with_digest(other), [OCI])
    registry.api = lambda req, url: Reply(200, MANIFEST, {"Content-Type": OCI, "Docker-Content-Digest": other})
    with pytest.raises(DigestMismatchError, match="registry says"):
        client.get_manifest(REF, [OCI])


def test_list_tags_follows_link_pagination():
    client, _, _ = make_client(FakeRegistry(auth=None))
    assert client.list_tags(REF) == ["a", "b", "c"]


def test_upload_finishing_with_202_is_checked_with_head():
    data = b"layer bytes"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    stored = {}

    def api(req, url):
        if req.method == "POST":
            return Reply(202, b"", {"Location": "/v2/team/app/blobs/uploads/u1?_state=s"})
        if req.method == "PUT":
            assert parse_qs(url.query) == {"_state": ["s"], "digest": [digest]}
            stored[digest] = req.body
            return Reply(202)
        if req.method == "HEAD":
            return Reply(200, b"", {"Content-Length": str(len(stored.get(digest, b"")))}) if digest in stored \
                else Reply(404)
        raise AssertionError(req.method)

    registry = FakeRegistry(auth=None)
    registry.api = api
    client, _, _ = make_client(registry)
    client.upload_blob(REF, digest, len(data), data)
    assert stored[digest] == data


def test_the_client_has_no_mirror_option_to_silently_apply_to_pushes():
    """Mirrors redirect pulls only (mason.registry.mirrors, applied above the client)."""
    with pytest.raises(TypeError):
        RegistryOptions(mirrors={"docker.io": ("mirror.local",)})


def test_plain_http_only_when_asked():
    registry = FakeRegistry(auth=None)
    client, adapter, _ = make_client(registry, options=RegistryOptions(insecure_registries={HOST}))
    client.get_manifest(REF, [OCI])
    assert adapter.seen[-1].url.startswith(f"http://{HOST}/")
    client, adapter, _ = make_client(registry)
    client.get_manifest(REF, [OCI])
    assert adapter.seen[-1].url.startswith(f"https://{HOST}/")
