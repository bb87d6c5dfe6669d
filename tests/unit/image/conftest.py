import pytest

from layoutfactory import BUSYBOX_FILES, LayoutBuilder


@pytest.fixture
def simple_layout(tmp_path):
    """A two-layer gzip image tagged 'latest': (path, builder, manifest descriptor)."""
    b = LayoutBuilder(tmp_path / "simple")
    desc = b.image(BUSYBOX_FILES)
    b.tag(desc, "latest")
    return b.root, b, desc


@pytest.fixture
def multi_layout(tmp_path):
    """An index with linux/amd64 and linux/arm64/v8 images, tagged 'multi'."""
    b = LayoutBuilder(tmp_path / "multi")
    amd = b.image(BUSYBOX_FILES, arch="amd64")
    arm = b.image([{"bin/hello": b"arm hello\n"}], arch="arm64", variant="v8")
    idx = b.index([amd, arm])
    b.tag(idx, "multi")
    return b.root, b, idx, amd, arm
