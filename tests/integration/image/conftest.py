import pytest

from umocifixtures import busybox_layout


@pytest.fixture(scope="module")
def umoci_busybox(tmp_path_factory):
    """A umoci-made busybox OCI layout tagged 'latest' (two layers, one with a whiteout)."""
    return busybox_layout(tmp_path_factory.mktemp("umoci"))
