"""Open a registry image through the build's pull routes (mirrors, registry maps).

Each candidate of :meth:`mason.registry.mirrors.PullRoutes.candidates` is tried in turn,
each one with the operation retries of ``--image-download-retry`` (as Kaniko does). A
candidate that fails (unreachable, 404, 401/403, a bad manifest) is skipped with a warning
naming it; the image is the first one found, and every blob of it is then read from that
same place (so a layer never comes from a registry the manifest did not). When every
candidate failed, the error lists what was tried and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mason.errors import ImageError, RegistryError
from mason.image.remote import open_remote
from mason.registry.mirrors import NO_ROUTES, ORIGIN, Candidate, PullRoutes
from mason.registry.operation_retry import retry_operation

_SKIPPED = (RegistryError, ImageError)


def _quiet(message: str) -> None:
    """Default sink for log lines when the caller has no reporter."""


def open_routed(client, ref, routes: PullRoutes = NO_ROUTES, *, retries: int = 0,
                info: Callable[[str], None] = _quiet, warn: Callable[[str], None] = _quiet,
                sleep: Callable[[float], None] = time.sleep):
    """``(view, candidate)``: the image or index ``ref`` names, from the first place that has it."""
    candidates = routes.candidates(ref)
    if len(candidates) == 1 and candidates[0].via == ORIGIN and candidates[0].ref == ref:
        # No redirection configured for this registry: exactly the plain pull.
        return _open(client, candidates[0], retries, warn, sleep), candidates[0]
    failures: list[tuple[Candidate, BaseException]] = []
    for number, candidate in enumerate(candidates):
        info(f"pulling {ref} from {candidate.describe()} as {candidate.ref}")
        try:
            view = _open(client, candidate, retries, warn, sleep)
        except _SKIPPED as exc:
            failures.append((candidate, exc))
            if number + 1 < len(candidates):
                warn(f"could not pull {ref} from {candidate.describe()} ({candidate.ref}): {exc}; "
                     f"trying {candidates[number + 1].describe()}")
            continue
        return view, candidate
    raise _all_failed(ref, routes, failures)


def _open(client, candidate: Candidate, retries: int, warn, sleep):
    return retry_operation(lambda: open_remote(client, candidate.ref), retries,
                           what=f"pull of {candidate.ref}", warn=warn, sleep=sleep)


def _all_failed(ref, routes: PullRoutes, failures) -> RegistryError:
    tried = "; ".join(f"{c.describe()} ({c.ref}): {exc}" for c, exc in failures)
    last = failures[-1][1]
    fell_back = failures[-1][0].via == ORIGIN
    message = f"could not pull {ref} from anywhere it may come from; tried {tried}"
    hint = None if fell_back else ("every configured mirror / mapped registry failed and "
                                   "--skip-default-registry-fallback forbids trying "
                                   f"{ref.registry} itself")
    if isinstance(last, RegistryError):
        return type(last)(message, status=last.status, codes=last.codes, method=last.method, url=last.url,
                          temporary=last.temporary, hint=hint or last.hint)
    return RegistryError(message, hint=hint)
