"""The push-permission check of the cache repository (Kaniko checks only destinations).

With ``--cache=true`` a build pushes a layer per cached step to the cache repository
(``--cache-repo``, or ``<first destination>/cache``). Kaniko never checks that repository
before building, so a user allowed to push the image but not its cache learns it at the
end, as a warning per layer, and every later build misses the cache. mason checks it with
the destinations, before the first step runs; an ``oci:`` cache is a directory, checked
for being writable instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from mason.errors import AuthError, RegistryError, UsageError
from mason.executor.options import BuildOptions
from mason.executor.settings import default_cache_repo
from mason.oci.reference import parse_reference


def check_cache_repo(options: BuildOptions, client_factory: Callable[[], Any]) -> str | None:
    """Raise if the build may not push to its cache repository; a warning (returned) when the
    cache's registry cannot be reached or fails: a cache only saves time, so the build goes on
    without it (each lookup then misses, each cache push is a warning)."""
    repo = default_cache_repo(options)
    if repo.startswith("oci:"):
        _check_directory(repo[len("oci:"):], repo)
        return None
    ref = parse_reference(repo)
    try:
        client_factory().check_push_permission(ref)
    except AuthError as exc:
        where = "--cache-repo" if options.cache_repo else "cache repository (derived from the first --destination)"
        raise AuthError(f"{where} {ref.name}: {exc.message}", status=exc.status, codes=exc.codes,
                        method=exc.method, url=exc.url,
                        hint=f"push permission denied for the cache repository {ref.name}: give a --cache-repo "
                             "these credentials may push to, or --no-push-cache to read the cache only") from None
    except RegistryError as exc:
        return f"cache repository {ref.name} is unavailable ({exc.message}); building without the cache"
    return None


def _check_directory(path: str, repo: str) -> None:
    """The layout directory, or the nearest existing parent it would be created in, is writable."""
    if not path:
        raise UsageError("--cache-repo=oci: needs a path, e.g. oci:/var/cache/mason")
    target = Path(path)
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"--cache-repo {repo}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is not writable" if probe == target else f"cannot be created: {probe} is not writable"
        raise UsageError(f"--cache-repo {repo}: the cache directory {target} {what}",
                         hint="point --cache-repo=oci:DIR at a writable directory, or use --no-push-cache")
