import os

import pytest

from tests.integration.sandbox.conftest import make_busybox_root

pytestmark = pytest.mark.integration


@pytest.fixture
def busybox_root(tmp_path):
    return make_busybox_root(tmp_path / "root")


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.fail("the unprivileged-container harness must be started as root (it prepares the "
                    "mount namespace and drops capabilities itself)")
