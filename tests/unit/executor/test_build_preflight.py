"""The push-permission pre-flight runs alongside the build's start, and its error still wins."""

from __future__ import annotations

import threading
import time

import pytest

from mason.errors import AuthError, NotFoundError
from mason.executor.executor import run_build
from mason.executor.options import BuildOptions
from mason.executor.preflight import PushPreflight
from mason.registry.interrupt import TransferCancelled


def test_a_failed_check_cancels_and_is_raised_first_in_order():
    cancel = threading.Event()
    warnings: list[str] = []

    def slow_denied():
        time.sleep(0.05)
        raise AuthError("no push access to app")

    def down():
        return "cache repository is unavailable; building without the cache"

    def also_failing():
        raise AuthError("second")

    checks = PushPreflight([slow_denied, down, also_failing], warn=warnings.append, cancel=cancel)
    with pytest.raises(AuthError, match="no push access to app"):
        checks.wait()
    assert cancel.is_set()
    assert warnings == ["cache repository is unavailable; building without the cache"]
    assert str(checks.failure()) == "no push access to app"


class DeniedRegistry:
    """Push access is denied (slowly); the base image does not exist (at once)."""

    def __init__(self):
        self.pulled = threading.Event()

    def check_push_permission(self, ref):
        self.pulled.wait(5)              # the base lookup ran while the check was still going
        raise AuthError(f"no push access to {ref.name}")

    def get_manifest(self, ref, accept):
        self.pulled.set()
        raise NotFoundError(f"{ref}: manifest unknown", status=404)

    def __getattr__(self, name):
        raise AssertionError(f"unexpected registry call {name}")


def test_the_denied_push_is_the_error_even_when_the_base_failed_first(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM reg.example/base:1\nRUN true\n")
    registry = DeniedRegistry()
    opts = BuildOptions(context_dir=tmp_path, destinations=("reg.example/app:1",), cache=True,
                        cache_repo=f"oci:{tmp_path / 'cache'}", work_root=tmp_path / "work", scratch_fs=False)
    with pytest.raises(AuthError, match="no push access to reg.example/app"):
        run_build(opts, registry=registry, env={})
    assert registry.pulled.is_set()


def test_a_check_cut_by_the_cancel_is_not_the_reported_failure():
    """The denied check cancels the build; the check whose transfer that cut ends with
    TransferCancelled, which must not hide the denial, even though it comes first in order."""
    cancel = threading.Event()

    def cut_by_the_cancel():
        cancel.wait(5)
        raise TransferCancelled("DELETE …/blobs/uploads/x cancelled: the build is stopping")

    def denied():
        raise AuthError("push permission denied for reg/public/app")

    checks = PushPreflight([cut_by_the_cancel, denied], warn=lambda _: None, cancel=cancel)
    with pytest.raises(AuthError, match="push permission denied"):
        checks.wait()
    assert isinstance(checks.failure(), AuthError)
