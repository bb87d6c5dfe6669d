"""The base image must be for the platform the build is for: never a silent other-arch image.

An index without the platform is refused by ``ImageIndex.select`` (naming the platforms it
has); this module adds the build's hint to that error, and checks what a single-platform
manifest's config says. With ``--custom-platform`` (or ``FROM --platform``) a base for another
platform is an error naming the one it has: building ``linux/arm64`` on an amd64-only base
would otherwise push an amd64 image tagged as the arm64 build. Without either, the build is
for this host, and a foreign single-platform base gets a warning, as Docker gives one.
"""

from __future__ import annotations

from mason.errors import ImageError

HINT = ("pass --custom-platform (or FROM --platform) with one of the platforms the base has, "
        "or use a base image that has the platform")


def check_single_platform(view, wanted, *, base: str, explicit: bool, warn) -> None:
    """``view``: an ``Image``; ``wanted``: the ``Platform`` asked for."""
    have = view.platform
    if not have.os or not have.architecture:
        return          # the config does not say: nothing to compare (scratch-like bases)
    if wanted.matches(have):
        return
    message = (f"base image {base} is a single-platform image for {have.normalized()}, "
               f"not {wanted.normalized()} (its platforms: {have.normalized()})")
    if explicit:
        raise ImageError(message, hint=HINT)
    warn(message + "; building on it anyway, as the platform was not asked for")


def with_hint(exc: ImageError, base: str) -> ImageError:
    """An index's "no image for platform" error, naming the base and what to do."""
    return ImageError(f"base image {base}: {exc.message}", hint=HINT)
