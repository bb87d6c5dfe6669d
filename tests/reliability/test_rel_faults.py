"""Registry faults between mason and a real registry (tests/support/faultproxy.py).

A build pulls its base through the proxy and pushes through it. Each fault must end in a
success that produced correct data (skopeo pulls the pushed image back, verifying every
digest) or a clear MasonError; after a failure the tag is absent and the extracted-layer
store in --cache-dir holds nothing that did not verify.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import pytest

from mason.executor.executor import run_build
from mason.executor.options import BuildOptions, RegistryAccess
from mason.errors import MasonError, RegistryError
from tests.reliability.relhelpers import skopeo_copy_to_dir, store_entries, tag_exists
from tests.support.images import push_layout

pytestmark = pytest.mark.integration
_names = itertools.count()


@pytest.fixture(scope="module")
def base_repo(registry_plain, busybox_layout):
    push_layout(busybox_layout, f"{registry_plain.host}/rel/base:latest")
    return "rel/base:latest"


def _build(tmp_path: Path, proxy, base_repo: str, *, dockerfile: str | None = None, repo: str | None = None):
    repo = repo or f"rel/out{next(_names)}"
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    # the RUN's layer (random bytes: ~300 kB compressed) is big enough to cut its upload
    (context / "Dockerfile").write_text(dockerfile or f"FROM {proxy.host}/{base_repo}\n"
                                        "RUN head -c 300000 /dev/urandom > /built\n")
    options = BuildOptions(context_dir=context, destinations=(f"{proxy.host}/{repo}:v1",),
                           work_root=tmp_path / "work", cache_dir=tmp_path / "cache", reproducible=True,
                           registry=RegistryAccess(insecure_registries=(proxy.host,)))
    return repo, options


def _assert_pushed_and_verified(registry, repo: str, tmp_path: Path, result) -> None:
    assert tag_exists(registry.host, repo, "v1")
    dest = tmp_path / "pulled"
    skopeo_copy_to_dir(f"docker://{registry.host}/{repo}:v1", dest)   # verifies every blob digest
    assert (dest / "manifest.json").read_bytes() == result.manifest


def _assert_store_verified(tmp_path: Path) -> None:
    """Every published store entry is named by the diff_id its extraction verified: recompute nothing,
    but there must be no half-written entry (temporaries start with a dot and are not published).
    An EROFS image entry must also pass the independent checker, ``fsck.erofs``."""
    entries = store_entries(tmp_path / "cache")
    assert entries
    for entry in entries:
        if entry.name.endswith(".erofs"):
            assert entry.is_file() and len(entry.name) == 64 + len(".erofs"), entry
            check = subprocess.run(["fsck.erofs", str(entry)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr
        else:
            assert entry.is_dir() and len(entry.name) == 64, entry


@pytest.mark.parametrize("kind,method,path,count,extra", [
    ("status-503", "GET", "/manifests/", 2, {}),
    ("status-500", "GET", "/blobs/sha256:", 1, {}),
    ("status-502", "PUT", "/blobs/uploads/", 1, {}),
    ("status-503", "PUT", "/manifests/", 2, {}),
    ("status-429", "HEAD", "/blobs/", 1, {"retry_after": "1"}),
    ("status-429", "GET", "/manifests/", 1, {"retry_after": "12"}),
    ("reset_response", "GET", "/blobs/sha256:", 1, {"after_bytes": 150_000}),
    ("truncate", "GET", "/blobs/sha256:", 1, {"after_bytes": 150_000}),
    ("reset_request", "PUT", "/blobs/uploads/", 1, {"after_bytes": 50_000}),
    ("delay", "GET", "/blobs/sha256:", 2, {"seconds": 2.0}),
])
def test_transient_fault_is_retried_and_the_image_is_correct(tmp_path, fault_proxy, registry_plain, base_repo,
                                                             kind, method, path, count, extra):
    repo, options = _build(tmp_path, fault_proxy, base_repo)
    if kind.startswith("status-"):
        fault_proxy.fail_next(count, int(kind.split("-")[1]), method=method, path_contains=path, **extra)
    else:
        fault_proxy.fault_next(count, kind, method=method, path_contains=path, **extra)
    started = time.monotonic()
    result = run_build(options)
    elapsed = time.monotonic() - started
    # the fault really happened and the build did not give up on it
    if kind.startswith("status-"):
        assert [e for e in fault_proxy.requests(method, path) if e[2] == int(kind.split("-")[1])]
    else:
        assert [f for f in fault_proxy.fired if f[0] == kind], f"the {kind} fault never fired"
    if kind == "status-429":
        asked = float(extra["retry_after"])
        assert elapsed >= asked, f"Retry-After: {extra['retry_after']} was not honoured"
    assert elapsed < 90
    _assert_pushed_and_verified(registry_plain, repo, tmp_path, result)
    _assert_store_verified(tmp_path)


def test_wrong_bytes_are_caught_and_not_stored(tmp_path, fault_proxy, registry_plain, base_repo):
    """A blob served with one flipped byte every time: the build fails naming the digest, the
    store keeps no entry for it, nothing is pushed."""
    repo, options = _build(tmp_path, fault_proxy, base_repo)
    fault_proxy.corrupt_blobs = True
    with pytest.raises(MasonError) as info:
        run_build(options)
    assert "digest" in str(info.value).lower() or "malformed" in str(info.value).lower() \
        or "cannot read" in str(info.value).lower(), str(info.value)
    assert store_entries(tmp_path / "cache") == []
    assert not tag_exists(registry_plain.host, repo, "v1")
    assert not list((tmp_path / "work").glob("mason-build-*"))


def test_wrong_bytes_once_then_right(tmp_path, fault_proxy, registry_plain, base_repo):
    """One corrupt answer, then correct ones: success (retried) or a clear digest error; either way
    no corrupt layer is stored and a pushed image verifies."""
    repo, options = _build(tmp_path, fault_proxy, base_repo)
    fault_proxy.fault_next(1, "corrupt", method="GET", path_contains="/blobs/sha256:")
    try:
        result = run_build(options)
    except MasonError as exc:
        assert "digest" in str(exc).lower() or "malformed" in str(exc).lower() or "cannot read" in str(exc).lower()
        assert store_entries(tmp_path / "cache") == []
        assert not tag_exists(registry_plain.host, repo, "v1")
    else:
        _assert_pushed_and_verified(registry_plain, repo, tmp_path, result)


@pytest.mark.parametrize("method,path", [("PUT", "/manifests/"), ("PUT", "/blobs/uploads/"),
                                         ("POST", "/blobs/uploads/")])
def test_persistent_push_failure_is_clear_and_leaves_no_tag(tmp_path, fault_proxy, registry_plain, base_repo,
                                                            method, path):
    repo, options = _build(tmp_path, fault_proxy, base_repo)
    # the permission check POSTs an upload too: let it pass, then fail every later matching request
    options = BuildOptions(**{**options.__dict__, "check_push_permission": False})
    fault_proxy.fail_next(100, 503, method=method, path_contains=path)
    started = time.monotonic()
    with pytest.raises(RegistryError) as info:
        run_build(options)
    assert time.monotonic() - started < 90, "retries are not bounded"
    message = str(info.value)
    assert "503" in message or "UNAVAILABLE" in message, message
    # the error names the registry and repository the build pushed to (the proxy), never the
    # host behind it, which mason did not talk to
    assert message.startswith(f"registry {fault_proxy.host}: {method} "), message
    assert f"{fault_proxy.host}/{repo}" in message and fault_proxy.upstream_host not in message, message
    assert not tag_exists(registry_plain.host, repo, "v1")
    # never a manifest PUT that reached the registry after a failed blob
    if path == "/blobs/uploads/":
        assert not [e for e in fault_proxy.requests("PUT", "/manifests/") if e[2] < 300]


def test_persistent_download_reset_fails_clearly(tmp_path, fault_proxy, registry_plain, base_repo):
    repo, options = _build(tmp_path, fault_proxy, base_repo)
    fault_proxy.fault_next(1000, "reset_response", method="GET", path_contains="/blobs/sha256:",
                           after_bytes=50_000)
    with pytest.raises(MasonError) as info:
        run_build(options)
    assert "blob" in str(info.value), str(info.value)
    assert store_entries(tmp_path / "cache") == []
    assert not tag_exists(registry_plain.host, repo, "v1")


def test_token_server_briefly_down(tmp_path, registry_token, busybox_layout):
    """The token issuer answers 503 twice: the token fetch is retried and the build pushes."""
    from tests.support.registry import DEFAULT_PASSWORD, DEFAULT_USER

    creds = f"{DEFAULT_USER}:{DEFAULT_PASSWORD}"
    push_layout(busybox_layout, f"{registry_token.host}/rel/tokbase:latest", creds=creds)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registry_token.host}/rel/tokbase\nRUN echo t > /t\n")
    config_dir = registry_token.docker_config(str(tmp_path / "docker"))
    registry_token.issuer.fail_next(2, 503)
    options = BuildOptions(context_dir=context, destinations=(f"{registry_token.host}/rel/tokout:v1",),
                           work_root=tmp_path / "work",
                           registry=RegistryAccess(insecure_registries=(registry_token.host,)))
    result = run_build(options, env={"DOCKER_CONFIG": config_dir})
    assert registry_token.issuer.failures_left == 0
    assert result.pushed
    dest = tmp_path / "pulled"
    import subprocess

    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds,
                    f"docker://{registry_token.host}/rel/tokout:v1", f"dir:{dest}"], check=True, capture_output=True)


def test_token_server_down_for_good_is_a_clear_error(tmp_path, registry_token, busybox_layout):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registry_token.host}/rel/tokbase2\n")
    config_dir = registry_token.docker_config(str(tmp_path / "docker"))
    registry_token.issuer.fail_next(1000, 503)
    try:
        options = BuildOptions(context_dir=context, destinations=(f"{registry_token.host}/rel/tokout2:v1",),
                               work_root=tmp_path / "work",
                               registry=RegistryAccess(insecure_registries=(registry_token.host,)))
        with pytest.raises(RegistryError) as info:
            run_build(options, env={"DOCKER_CONFIG": config_dir})
    finally:
        registry_token.issuer.fail_next(0)
    assert "token" in str(info.value).lower() or "503" in str(info.value), str(info.value)
