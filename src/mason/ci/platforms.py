"""One image for several platforms in a generated pipeline: per-platform tags and job names.

Each platform's job pushes the image to the image's first destination with the platform
appended to its tag (``…/api:${CI_COMMIT_SHORT_SHA}`` -> ``…/api:${CI_COMMIT_SHORT_SHA}-arm64``,
``linux/arm/v7`` -> ``-arm-v7``); the index job then lists those under every destination with
``mason manifest create``. Destinations stay symbolic: the job's shell expands the variables.
"""

from __future__ import annotations

import re

from mason.errors import UsageError


def platform_slug(platform: str) -> str:
    """``linux/arm64`` -> ``arm64``, ``linux/arm/v7`` -> ``arm-v7``, ``windows/amd64`` -> ``windows-amd64``."""
    parts = [p for p in platform.split("/") if p]
    if parts and parts[0] == "linux":
        parts = parts[1:]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).lower()


def platform_reference(destination: str, platform: str, where: str) -> str:
    """The per-platform tag of ``destination``."""
    if "@" in destination:
        raise UsageError(f"{where}: destination {destination!r} is a digest; a per-platform image needs a tag "
                         f"to be pushed under")
    last = destination.rsplit("/", 1)[-1]
    tagged = ":" in last and not last.endswith(":")
    return f"{destination}-{platform_slug(platform)}" if tagged else f"{destination}:latest-{platform_slug(platform)}"
