"""Image references, parsed and normalised the way Docker does.

``busybox`` means ``docker.io/library/busybox:latest``; the first path component is a
registry host only when it looks like one (contains ``.`` or ``:``, is ``localhost``, or has
upper-case letters), exactly as the Docker CLI decides, so that references written for
Kaniko or docker resolve to the same image here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mason.errors import InvalidReferenceError

DOCKER_HUB = "docker.io"
# Docker Hub's registry API does not live at docker.io itself.
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*\Z")
_HOST_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_REGISTRY = re.compile(rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?\Z")
_TAG = re.compile(r"[\w][\w.-]{0,127}\Z")
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[0-9a-f]+\Z")
_ANONYMOUS_HEX_ID = re.compile(r"[a-f0-9]{64}\Z")
_MAX_NAME_LENGTH = 255


def validate_digest(digest: str, *, what: str = "digest") -> str:
    """Return ``digest`` if it is ``sha256:<64 hex>`` or ``sha512:<128 hex>``, else raise."""
    algorithm, sep, hex_part = digest.partition(":")
    if not sep:
        raise InvalidReferenceError(f"invalid {what} {digest!r}: expected ALGORITHM:HEX, e.g. sha256:…")
    if algorithm not in _DIGEST_HEX_LENGTH:
        raise InvalidReferenceError(f"invalid {what} {digest!r}: unsupported algorithm {algorithm!r} "
                                    f"(supported: {', '.join(sorted(_DIGEST_HEX_LENGTH))})")
    if len(hex_part) != _DIGEST_HEX_LENGTH[algorithm] or not _HEX.match(hex_part):
        raise InvalidReferenceError(f"invalid {what} {digest!r}: {algorithm} needs "
                                    f"{_DIGEST_HEX_LENGTH[algorithm]} lower-case hex digits")
    return digest


def registry_api_host(registry: str) -> str:
    """The host that serves the registry API for ``registry`` (Docker Hub is special)."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


@dataclass(frozen=True)
class Reference:
    """A normalised image reference: ``registry/repository[:tag][@digest]``.

    When a reference carries both a tag and a digest, the digest identifies the image and the
    tag is informational (Docker's rule).
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What goes after ``/manifests/`` in the registry API."""
        if self.digest:
            return self.digest
        return self.tag or DEFAULT_TAG

    @property
    def api_host(self) -> str:
        return registry_api_host(self.registry)

    def with_tag(self, tag: str) -> "Reference":
        """Same repository, identified by ``tag`` (any digest is dropped: it would win over the tag)."""
        if not _TAG.match(tag):
            raise InvalidReferenceError(f"invalid tag {tag!r} for {self.name}")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> "Reference":
        """Same repository (and tag, kept for display), pinned to ``digest``."""
        return replace(self, digest=validate_digest(digest))

    def repo(self) -> "Reference":
        """Only registry and repository (for blob operations that ignore tag/digest)."""
        return Reference(self.registry, self.repository)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def familiar(self) -> str:
        """The short form Docker prints: ``busybox:latest``, ``user/app@sha256:…``."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository
            if name.startswith("library/") and name.count("/") == 1:
                name = name[len("library/"):]
        text = name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_registry(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return first, rest
    return DOCKER_HUB, name


def parse_reference(text: str) -> Reference:
    """Parse and normalise an image reference, raising ``InvalidReferenceError`` with the reason."""
    if not isinstance(text, str) or not text:
        raise InvalidReferenceError("invalid reference: empty string")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReferenceError(f"invalid reference {text!r}: contains whitespace")
    remainder, at, digest = text.partition("@")
    if at:
        validate_digest(digest, what=f"digest in reference {text!r}")
    registry, path = _split_registry(remainder)
    tag = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1:]
        if not _TAG.match(tag):
            raise InvalidReferenceError(f"invalid reference {text!r}: invalid tag {tag!r} "
                                        "(letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
    if not _REGISTRY.match(registry):
        raise InvalidReferenceError(f"invalid reference {text!r}: invalid registry host {registry!r}")
    if not path:
        raise InvalidReferenceError(f"invalid reference {text!r}: missing repository name")
    if registry in DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            if component.lower() != component and _COMPONENT.match(component.lower()):
                raise InvalidReferenceError(f"invalid reference {text!r}: repository name must be lower-case")
            raise InvalidReferenceError(
                f"invalid reference {text!r}: invalid repository path component {component!r} "
                "(lower-case letters and digits separated by '.', '_', '__' or '-')")
    if _ANONYMOUS_HEX_ID.match(remainder):
        raise InvalidReferenceError(f"invalid reference {text!r}: a 64-character hex string is an image ID, "
                                    "not a repository name")
    if len(registry) + 1 + len(path) > _MAX_NAME_LENGTH:
        raise InvalidReferenceError(f"invalid reference {text!r}: name longer than {_MAX_NAME_LENGTH} characters")
    if tag is None and not at:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=path, tag=tag, digest=digest if at else None)
