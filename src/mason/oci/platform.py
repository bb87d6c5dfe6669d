"""Platforms (os/architecture/variant): parsing, normalisation, host default, index selection.

Normalisation follows containerd's rules so that "x86_64", "aarch64" and "arm64/v8" all mean
what a registry's index calls them: amd64, arm64 (variant v8 implied), arm (variant v7 implied).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from mason.errors import ImageError, UsageError

_ARCH_ALIASES = {
    "x86_64": ("amd64", None), "x86-64": ("amd64", None), "amd64": ("amd64", None),
    "aarch64": ("arm64", None), "arm64": ("arm64", None),
    "armhf": ("arm", "v7"), "armel": ("arm", "v6"), "arm": ("arm", None),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "armv5l": ("arm", "v5"),
    "i386": ("386", None), "i486": ("386", None), "i586": ("386", None), "i686": ("386", None),
    "386": ("386", None),
}
# architecture -> the variant implied when none is given
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclass(frozen=True)
class Platform:
    """An OCI platform: os, architecture, variant."""

    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    @classmethod
    def from_dict(cls, data: Any, where: str = "platform") -> "Platform":
        if not isinstance(data, dict) or not isinstance(data.get("os"), str) \
                or not isinstance(data.get("architecture"), str):
            raise ImageError(f"{where}: platform needs string 'os' and 'architecture'")
        return cls(os=data["os"], architecture=data["architecture"], variant=data.get("variant") or None,
                   os_version=data.get("os.version") or None,
                   os_features=tuple(data.get("os.features") or ()))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        return out

    def normalized(self) -> "Platform":
        arch, implied = _ARCH_ALIASES.get(self.architecture.lower(), (self.architecture.lower(), None))
        variant = (self.variant or implied or _DEFAULT_VARIANT.get(arch))
        if variant:
            variant = variant.lower()
            if arch == "arm64" and variant == "8":
                variant = "v8"
        return Platform(self.os.lower(), arch, variant, self.os_version, self.os_features)

    def matches(self, other: "Platform") -> bool:
        """Whether ``other`` (from an index) satisfies this wanted platform."""
        a, b = self.normalized(), other.normalized()
        return a.os == b.os and a.architecture == b.architecture and a.variant == b.variant


def parse_platform(text: str) -> Platform:
    """Parse ``os/arch[/variant]`` (e.g. ``linux/arm64``, ``linux/arm/v7``) and normalise it."""
    parts = text.strip().split("/") if isinstance(text, str) else []
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None).normalized()


def host_platform() -> Platform:
    """The platform of this machine (Linux only: mason builds Linux images). ``os.uname``, as
    ``platform.machine()`` reads it, without importing ``platform`` (its regexes) at start-up."""
    return Platform("linux", os.uname().machine or "amd64").normalized()


def select_platform(candidates: Iterable[tuple[Platform | None, Any]], wanted: Platform, where: str) -> Any:
    """Pick the item whose platform matches ``wanted``; error lists what is available."""
    items = list(candidates)
    for plat, item in items:
        if plat is not None and wanted.matches(plat):
            return item
    available = ", ".join(sorted({str(p.normalized()) for p, _ in items if p is not None})) or "none declared"
    raise ImageError(f"{where} has no image for platform {wanted}; available: {available}",
                     hint="choose one with --platform os/arch[/variant]")
