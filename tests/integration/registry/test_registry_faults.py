"""Retries and verification against the real registry behind a fault-injecting proxy."""

import hashlib
import os
import uuid

import pytest

from mason.errors import DigestMismatchError, NotFoundError, RegistryError
from mason.oci.reference import parse_reference
from mason.registry import RegistryClient, RegistryOptions, RetryPolicy

pytestmark = pytest.mark.integration

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05, max_total=5, max_attempts=4)


def client_via(proxy, retry=FAST, sleeps=None):
    sleep = (lambda s: sleeps.append(s)) if sleeps is not None else (lambda s: None)
    return RegistryClient(options=RegistryOptions(insecure_registries={proxy.host}, retry=retry), sleep=sleep)


def repo_at(proxy):
    return parse_reference(f"{proxy.host}/faults/{uuid.uuid4().hex[:8]}")


def test_503_then_pass_through_is_retried(fault_proxy):
    sleeps = []
    client = client_via(fault_proxy, sleeps=sleeps)
    repo = repo_at(fault_proxy)
    data = os.urandom(20_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    fault_proxy.fail_next(2, 503, method="PUT")
    fault_proxy.fail_next(1, 503, method="PATCH")
    client.upload_blob(repo, digest, len(data), data, chunk_size=8000)
    fault_proxy.fail_next(2, 503, method="GET", path_contains="/blobs/")
    with client.open_blob(repo, digest) as f:
        assert f.read() == data
    statuses = [(m, s) for m, p, s in fault_proxy.log if "/blobs/" in p]
    assert statuses.count(("PUT", 503)) == 2 and ("PUT", 201) in statuses
    assert statuses.count(("GET", 503)) == 2 and ("GET", 200) in statuses
    assert len(sleeps) == 5


def test_429_retry_after_is_honoured(fault_proxy):
    sleeps = []
    client = client_via(fault_proxy, retry=RetryPolicy(initial_delay=0.01, max_delay=5, jitter=0), sleeps=sleeps)
    repo = repo_at(fault_proxy)
    fault_proxy.fail_next(1, 429, path_contains="/tags/list", retry_after="2")
    with pytest.raises(NotFoundError):
        client.list_tags(repo)
    assert sleeps == [2.0]


def test_giving_up_reports_the_last_error(fault_proxy):
    client = client_via(fault_proxy)
    fault_proxy.fail_next(100, 503, path_contains="/manifests/")
    with pytest.raises(RegistryError) as info:
        client.get_manifest(repo_at(fault_proxy).with_tag("x"), ["application/vnd.oci.image.manifest.v1+json"])
    assert info.value.temporary and info.value.status == 503 and "UNAVAILABLE" in info.value.codes
    assert sum(1 for _, p, _ in fault_proxy.log if "/manifests/" in p) == FAST.max_attempts


def test_not_found_is_not_retried(fault_proxy):
    client = client_via(fault_proxy)
    with pytest.raises(NotFoundError):
        client.get_manifest(repo_at(fault_proxy).with_tag("missing"), ["application/vnd.oci.image.manifest.v1+json"])
    assert sum(1 for _, p, _ in fault_proxy.log if "/manifests/" in p) == 1


def test_corrupted_blob_is_refused(fault_proxy):
    client = client_via(fault_proxy)
    repo = repo_at(fault_proxy)
    data = os.urandom(100_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    client.upload_blob(repo, digest, len(data), data)
    fault_proxy.corrupt_blobs = True
    with pytest.raises(DigestMismatchError, match=digest):
        with client.open_blob(repo, digest, len(data)) as f:
            while f.read(8192):
                pass
    # a consumer that stops early still gets the error when it closes the stream
    f = client.open_blob(repo, digest, len(data))
    f.read(10)
    with pytest.raises(DigestMismatchError):
        f.close()


def test_connection_refused_is_a_registry_error_naming_the_host():
    from tests.support.registry import free_port

    host = f"127.0.0.1:{free_port()}"
    client = RegistryClient(options=RegistryOptions(insecure=True, retry=FAST), sleep=lambda s: None)
    with pytest.raises(RegistryError) as info:
        client.ping(host)
    assert host in str(info.value) and info.value.temporary
