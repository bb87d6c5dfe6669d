import os

import pytest

from tests.support.busyroot import GROUP, PASSWD, make_busybox_root  # noqa: F401 (re-exported)

pytestmark = pytest.mark.integration


@pytest.fixture
def busybox_root(tmp_path):
    return make_busybox_root(tmp_path / "root")


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.fail("integration tests of this area need root (run them in CI as root)")
