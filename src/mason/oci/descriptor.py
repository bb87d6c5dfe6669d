"""Content descriptors: the (media type, digest, size) triple that names every blob."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from mason.errors import ImageError
from mason.oci.digest import validate_digest
from mason.oci.platform import Platform


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: media type, digest and size of a blob."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    # Fields mason does not model (artifactType, data, …) kept so re-serialising loses nothing.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        validate_digest(self.digest)
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise ImageError(f"descriptor {self.digest}: invalid size {self.size!r}")
        if not isinstance(self.media_type, str) or not self.media_type:
            raise ImageError(f"descriptor {self.digest}: missing mediaType")

    @classmethod
    def from_dict(cls, data: Any, where: str = "descriptor") -> "Descriptor":
        if not isinstance(data, dict):
            raise ImageError(f"{where}: a descriptor must be a JSON object, got {type(data).__name__}")
        for key in ("mediaType", "digest", "size"):
            if key not in data:
                raise ImageError(f"{where}: descriptor lacks {key!r}")
        annotations = data.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()):
            raise ImageError(f"{where}: annotations must map strings to strings")
        urls = data.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ImageError(f"{where}: urls must be a list of strings")
        platform = data.get("platform")
        try:
            return cls(
                media_type=data["mediaType"],
                digest=data["digest"],
                size=data["size"],
                annotations=dict(annotations),
                platform=Platform.from_dict(platform, where) if platform is not None else None,
                urls=tuple(urls),
                extra={k: v for k, v in data.items()
                       if k not in ("mediaType", "digest", "size", "annotations", "platform", "urls")},
            )
        except ImageError as exc:
            if exc.message.startswith(where):
                raise
            raise ImageError(f"{where}: {exc.message}", hint=exc.hint) from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        out.update(self.extra)
        return out

    def with_annotations(self, annotations: Mapping[str, str]) -> "Descriptor":
        return Descriptor(self.media_type, self.digest, self.size, dict(annotations), self.platform,
                          self.urls, self.extra)

    @property
    def ref_name(self) -> str | None:
        return self.annotations.get(REF_NAME)


REF_NAME = "org.opencontainers.image.ref.name"
