import pytest

from tests.support.busyroot import GROUP, PASSWD, make_busybox_root  # noqa: F401 (used by tests)
from tests.support.rootfixtures import busybox_root, require_root  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _needs_root():
    require_root('the unprivileged-container harness must be started as root (it prepares the mount namespace and drops capabilities itself)')


@pytest.fixture(scope="session")
def mason_rootfs(tmp_path_factory):
    """mason's own image (built by this checkout from the repository's Dockerfile, offline),
    unpacked: (rootfs, its ENV). Host-root tests copy it into a fresh container root each."""
    from tests.support.masonimage import build, build_context

    work = tmp_path_factory.mktemp("mason-image")
    image = build(work, target=None, cache=work / "cache", context=build_context(work / "context"))
    bundle = image.unpack(work / "bundle")
    return bundle.rootfs, bundle.env()


@pytest.fixture
def job(tmp_path, mason_rootfs, busybox_layout):
    """A CI job container of mason's image, the busybox test image at /builds/base."""
    from tests.support.containerroot import Container

    rootfs, env = mason_rootfs
    return Container(tmp_path, rootfs, env, busybox_layout)
