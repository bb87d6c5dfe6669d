"""Kaniko's ``--push-retry N`` / ``--image-download-retry N``: retries of a whole operation.

Kaniko wraps the whole push of a destination (``remote.Write``) and the whole retrieval of
an image's manifest (``remote.Image``) in ``util.Retry(op, N, 1000)``: N more attempts
after the first, waiting 1 s, 2 s, 4 s … between them, *on top of* the HTTP client's own
per-request retries (go-containerregistry retries temporary failures of each request).
mason does the same: each request keeps the client's ``RetryPolicy`` (5xx, 429, resets,
whatever ``--push-retry`` says), and N is the number of times the whole operation starts
over after it failed anyway. Like Kaniko, any registry failure counts (a 404 may be an
image a parallel job is still pushing), not only the temporary ones; errors that no
registry can change (usage errors, malformed references) are never retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from mason.errors import DigestMismatchError, RegistryError

T = TypeVar("T")
RETRIED = (RegistryError, DigestMismatchError)
INITIAL_DELAY = 1.0          # seconds, doubled after each retry (Kaniko's 1000 ms)


def retry_operation(operation: Callable[[], T], retries: int, *, what: str,
                    warn: Callable[[str], None] = lambda message: None,
                    sleep: Callable[[float], None] = time.sleep, initial_delay: float = INITIAL_DELAY) -> T:
    """Run ``operation``; after a registry failure start it over, at most ``retries`` times."""
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    attempt = 0
    while True:
        try:
            return operation()
        except RETRIED as exc:
            if attempt >= retries:
                raise
            delay = initial_delay * 2 ** attempt
            attempt += 1
            warn(f"{what} failed: {exc}; retrying in {delay:g}s (retry {attempt} of {retries})")
            sleep(delay)
