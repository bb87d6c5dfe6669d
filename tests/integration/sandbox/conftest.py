import pytest

from tests.support.busyroot import GROUP, PASSWD, make_busybox_root  # noqa: F401 (used by tests)
from tests.support.rootfixtures import busybox_root, require_root  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _needs_root():
    require_root('integration tests of this area need root (run them in CI as root)')
