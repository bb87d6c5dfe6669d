"""One registry client serves pulls and pushes when Kaniko's push and pull switches agree;
two clients (each with its direction's options) when they do not."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from mason.executor.executor import Build
from mason.executor.options import BuildOptions, RegistryAccess
from mason.executor.registryaccess import registry_options, same_both_ways
from mason.executor.settings import parse_settings
from mason.executor.workdir import WorkDir
from mason.executor import events as ev
from mason.tls import TlsTrust

SWITCHES = ("insecure", "insecure_pull", "skip_tls_verify", "skip_tls_verify_pull")


def _accesses():
    yield None
    for values in itertools.product((False, True), repeat=len(SWITCHES)):
        yield RegistryAccess(**dict(zip(SWITCHES, values)), insecure_registries=("a.example:5000",),
                             skip_tls_verify_registries=("b.example",), ca_certificates={"c.example": "/ca.pem"},
                             client_certificates={"c.example": ("/cert.pem", "/key.pem")})


def _fields(options) -> dict:
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


@pytest.mark.parametrize("access", list(_accesses()))
def test_same_both_ways_exactly_when_the_options_are_equal(access):
    trust = TlsTrust.of()
    push, pull = (registry_options(access, push=p, trust=trust) for p in (True, False))
    # every field, the trust value too (by identity): nothing tells the two clients apart
    assert same_both_ways(access) == (_fields(push) == _fields(pull))


@pytest.fixture
def work(tmp_path):
    with WorkDir(tmp_path / "work", scratch_fs=False) as w:
        yield w


def _build(tmp_path, work, access, registry=None):
    options = BuildOptions(context_dir=tmp_path, destinations=("reg.example/app:1",), registry=access)
    return Build(parse_settings(options, {}), work, reporter=ev.NullReporter(), env={}, registry=registry)


def test_one_client_when_the_switches_agree(tmp_path, work):
    build = _build(tmp_path, work, RegistryAccess(insecure=True, insecure_pull=True))
    assert build.push_registry is build.registry
    assert build.registry.options.insecure


def test_two_clients_when_they_differ(tmp_path, work):
    build = _build(tmp_path, work, RegistryAccess(insecure=True))      # --insecure: pushes only
    assert build.push_registry is not build.registry
    assert build.push_registry.options.insecure and not build.registry.options.insecure


def test_an_injected_client_serves_both(tmp_path, work):
    fake = object()
    build = _build(tmp_path, work, RegistryAccess(insecure=True), registry=fake)
    assert build.registry is fake and build.push_registry is fake
