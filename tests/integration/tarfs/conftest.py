import os
import sys
from pathlib import Path

import pytest

# The crafting/comparison helpers live next to the unit tests; share them, don't copy.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "tarfs"))


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration/tarfs" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.fail("tarfs integration tests need root (devices, chown, trusted xattrs, mounts)")
