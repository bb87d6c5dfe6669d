"""Which registries are tried over plain HTTP after HTTPS: go-containerregistry's rule."""

from __future__ import annotations

import pytest

from mason.registry import RegistryOptions
from mason.registry.localhost import may_fall_back_to_http

LOCAL = ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:443", "[::1]:5000", "::1",
         "10.0.3.7:5000", "10.255.255.255", "172.16.0.1:5000", "172.31.9.9", "192.168.1.20:80",
         "registry.local", "registry.local:5000", "my.registry.localhost:8080", "REGISTRY.LOCAL:5000"]
REMOTE = ["registry.gitlab.com", "index.docker.io", "gcr.io:443", "172.32.0.1:5000", "172.15.255.255",
          "192.169.0.1", "11.0.0.1:5000", "8.8.8.8", "[fd00::1]:5000", "[2001:db8::1]:5000",
          "localhost.example.com", "local", "notlocal", "registry.local.example.com:5000", "registry.locals"]


@pytest.mark.parametrize("host", LOCAL)
def test_local_hosts_may_answer_in_plain_http(host):
    assert may_fall_back_to_http(host)
    assert RegistryOptions().http_fallback(host)


@pytest.mark.parametrize("host", REMOTE)
def test_every_other_registry_is_https_only(host):
    assert not may_fall_back_to_http(host)
    assert not RegistryOptions().http_fallback(host)


def test_flags_decide_before_the_rule():
    # --insecure-registry: plain HTTP straight away, no HTTPS attempt
    assert RegistryOptions(insecure_registries=frozenset({"10.0.0.5:5000"})).scheme("10.0.0.5:5000") == "http"
    assert not RegistryOptions(insecure_registries=frozenset({"10.0.0.5:5000"})).http_fallback("10.0.0.5:5000")
    assert not RegistryOptions(local_http_fallback=False).http_fallback("127.0.0.1:5000")
