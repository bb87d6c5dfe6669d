"""--push-retry / --image-download-retry: retries of a whole operation, Kaniko's backoff."""

import pytest

from mason.errors import AuthError, DigestMismatchError, NotFoundError, RegistryError, UsageError
from mason.registry.operation_retry import retry_operation


def flaky(failures):
    calls = []

    def operation():
        calls.append(1)
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return "done"

    return operation, calls


def test_zero_retries_means_one_attempt():
    op, calls = flaky([RegistryError("boom")])
    with pytest.raises(RegistryError):
        retry_operation(op, 0, what="push to x", sleep=lambda s: None)
    assert len(calls) == 1


def test_n_retries_after_the_first_attempt_with_doubling_delays():
    sleeps, warnings = [], []
    op, calls = flaky([RegistryError("a"), NotFoundError("b"), AuthError("c")])
    assert retry_operation(op, 3, what="push to x", sleep=sleeps.append, warn=warnings.append) == "done"
    assert len(calls) == 4 and sleeps == [1.0, 2.0, 4.0]
    assert "push to x failed: a; retrying in 1s (retry 1 of 3)" == warnings[0]


def test_gives_up_with_the_last_error():
    op, calls = flaky([RegistryError("a"), DigestMismatchError("b"), RegistryError("last")])
    with pytest.raises(RegistryError, match="last"):
        retry_operation(op, 2, what="x", sleep=lambda s: None)
    assert len(calls) == 3


def test_errors_no_registry_can_change_are_not_retried():
    op, calls = flaky([UsageError("bad flag")])
    with pytest.raises(UsageError):
        retry_operation(op, 5, what="x", sleep=lambda s: None)
    assert len(calls) == 1
