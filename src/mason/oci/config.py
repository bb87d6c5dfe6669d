"""Image configuration (the JSON blob a manifest's config descriptor names).

Only what mason needs to reason about is modelled (platform, diff_ids, the runtime config
summary); the full parsed dict stays available in ``data`` and the exact bytes in ``raw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mason.errors import ImageError
from mason.oci.digest import digest_bytes, validate_digest
from mason.oci.manifest import canonical_json
from mason.oci.platform import Platform


@dataclass(frozen=True)
class ImageConfig:
    """An image's config blob: its exact bytes and the parsed document."""

    raw: bytes
    data: dict[str, Any]

    @property
    def digest(self) -> str:
        return digest_bytes(self.raw)

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(self.data["rootfs"]["diff_ids"])

    @property
    def platform(self) -> Platform:
        return Platform(self.data.get("os", ""), self.data.get("architecture", ""),
                        self.data.get("variant") or None, self.data.get("os.version") or None)

    @property
    def runtime(self) -> dict[str, Any]:
        """The ``config`` section (Env, Cmd, Entrypoint, …), empty when absent."""
        return self.data.get("config") or {}

    @property
    def created(self) -> str | None:
        return self.data.get("created")

    @property
    def history(self) -> list[Any]:
        return self.data.get("history") or []

    def summary(self) -> dict[str, Any]:
        rt = self.runtime
        return {key: value for key, value in {
            "created": self.created,
            "platform": str(self.platform),
            "user": rt.get("User"),
            "env": rt.get("Env"),
            "entrypoint": rt.get("Entrypoint"),
            "cmd": rt.get("Cmd"),
            "workdir": rt.get("WorkingDir"),
            "exposed_ports": sorted(rt.get("ExposedPorts") or {}) or None,
            "labels": rt.get("Labels"),
        }.items() if value not in (None, "", [], {})}

    @classmethod
    def build(cls, data: dict[str, Any]) -> "ImageConfig":
        """A new config serialised canonically."""
        return parse_config(canonical_json(data))


def parse_config(raw: bytes, where: str = "image config") -> ImageConfig:
    import json

    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{where}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ImageError(f"{where}: expected a JSON object")
    for key in ("os", "architecture"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise ImageError(f"{where}: missing {key!r}")
    rootfs = data.get("rootfs")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers" or not isinstance(rootfs.get("diff_ids"), list):
        raise ImageError(f"{where}: rootfs must be {{\"type\": \"layers\", \"diff_ids\": [...]}}")
    for i, d in enumerate(rootfs["diff_ids"]):
        try:
            validate_digest(d)
        except ImageError as exc:
            raise ImageError(f"{where}: rootfs.diff_ids[{i}]: {exc.message}") from None
    if data.get("config") is not None and not isinstance(data.get("config"), dict):
        raise ImageError(f"{where}: 'config' must be an object")
    return ImageConfig(bytes(raw), data)
