"""Fixtures of the areas whose integration tests work on a plain busybox root as root."""

from __future__ import annotations

import os

import pytest

from tests.support.busyroot import make_busybox_root


@pytest.fixture
def busybox_root(tmp_path):
    return make_busybox_root(tmp_path / "root")


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        pytest.fail(why)
