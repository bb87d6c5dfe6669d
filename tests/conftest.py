"""Shared fixtures: real registries and test base images (no mason code used to make them).

Registry fixtures yield :class:`tests.support.registry.RegistryServer` objects with
``.host`` ("127.0.0.1:PORT"), ``.url``, ``.username``/``.password`` (auth variants),
``.ca_file`` (TLS) and ``.docker_config(directory)``. Session-scoped ones are shared; use
``registry_factory(variant)`` when a test needs a registry of its own.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.faultproxy import FaultProxy
from tests.support.images import build_busybox_layout, build_multiplatform_layout, build_whiteout_layout
from tests.support.registry import RegistryServer, start_registry


def pytest_configure(config):
    """A suite started in the background of a non-interactive shell (``cmd &``, nohup, some CI
    runners) inherits SIGINT (and SIGHUP) ignored, and so would every mason the tests start:
    mason keeps an ignored signal ignored, as nohup asks. The tests that interrupt a build need
    the signal delivered, so the suite runs with the defaults whatever started it."""
    for signum, handler in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL),
                            (signal.SIGHUP, signal.SIG_DFL)):
        if signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, handler)


def _session_registry(tmp_path_factory, variant: str):
    server = start_registry(str(tmp_path_factory.mktemp(f"registry-{variant}")), variant)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry_plain(tmp_path_factory) -> RegistryServer:
    yield from _session_registry(tmp_path_factory, "plain")


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory) -> RegistryServer:
    yield from _session_registry(tmp_path_factory, "tls")


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory) -> RegistryServer:
    yield from _session_registry(tmp_path_factory, "token")


@pytest.fixture(params=["plain", "tls", "token"])
def any_registry(request) -> RegistryServer:
    """Each of the three session registries in turn."""
    return request.getfixturevalue(f"registry_{request.param}")


@pytest.fixture
def registry_factory(tmp_path_factory):
    """``registry_factory(variant)`` starts a fresh registry that is stopped after the test."""
    started: list[RegistryServer] = []

    def start(variant: str = "plain") -> RegistryServer:
        server = start_registry(str(tmp_path_factory.mktemp(f"fresh-registry-{variant}")), variant)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fault_proxy(registry_plain):
    """A :class:`FaultProxy` in front of ``registry_plain``."""
    proxy = FaultProxy(registry_plain.host).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def busybox_layout(tmp_path_factory) -> str:
    return build_busybox_layout(str(tmp_path_factory.mktemp("busybox")))


@pytest.fixture(scope="session")
def multiplatform_layout(tmp_path_factory) -> str:
    return build_multiplatform_layout(str(tmp_path_factory.mktemp("multiplatform")))


@pytest.fixture(scope="session")
def whiteout_layout(tmp_path_factory) -> str:
    return build_whiteout_layout(str(tmp_path_factory.mktemp("whiteout")))


_TESTS = Path(__file__).resolve().parent
_INTEGRATION_AREAS = ("integration", "reliability")


def pytest_collection_modifyitems(config, items):
    """Every test under tests/integration and tests/reliability is ``integration`` (real
    registry, skopeo/umoci, root): marked here, by place, because a ``pytestmark`` in a
    conftest.py marks nothing. Unit tests that need root or kernel features carry ``root``
    themselves, so ``-m "not integration and not root"`` runs anywhere."""
    for item in items:
        try:
            area = Path(str(item.fspath)).resolve().relative_to(_TESTS).parts[0]
        except ValueError:
            continue
        if area in _INTEGRATION_AREAS:
            item.add_marker(pytest.mark.integration)
