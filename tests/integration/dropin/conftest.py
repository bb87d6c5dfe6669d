"""mason's own image, built once per test session by mason from the repository's Dockerfile."""

from __future__ import annotations

import pytest

from tests.support.masonimage import BuiltImage, build, build_context


@pytest.fixture(scope="session")
def mason_image(tmp_path_factory):
    """``mason_image(target)``: the built image (None: the default executor image, "debug")."""
    work = tmp_path_factory.mktemp("mason-image")
    built: dict[str | None, BuiltImage] = {}
    context = None

    def get(target: str | None = None) -> BuiltImage:
        nonlocal context
        if target not in built:
            context = context or build_context(work / "context")
            built[target] = build(work, target=target, cache=work / "cache", context=context)
        return built[target]

    return get
