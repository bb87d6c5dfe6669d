"""The exception tree of mason.

This module imports nothing from mason, so every other module can raise from it.

    MasonError                      every error mason raises on purpose
    ├── UsageError                  bad command line / option combination      (exit 2)
    ├── DockerfileError             a Dockerfile that cannot be parsed/expanded (exit 1)
    ├── InvalidReferenceError       an invalid image reference (exit 2)
    ├── ImageError                  invalid manifest/config/index, digest mismatch
    │   └── DigestMismatchError     bytes did not hash to the expected digest
    ├── LayerError                  a layer tar that is unsafe or malformed
    ├── RegistryError               the registry answered with an error        (exit 3)
    │   ├── AuthError               401/403, bad credentials, denied
    │   └── NotFoundError           404 / MANIFEST_UNKNOWN / BLOB_UNKNOWN
    ├── BuildError                  a step failed (RUN exit code, COPY source missing) (exit 1)
    └── NotSupportedError           syntax or flags mason refuses rather than ignores

Every error may carry a ``hint`` (one sentence telling the user what to do next) and a
``source`` (the ``SourceRange`` of the Dockerfile lines it is about), so a renderer can show
both as fields (``mason build --log-format json``) rather than only as text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceRange:
    """Where in an input file an error is: ``file``, lines ``start_line``..``end_line`` (1-based)."""

    file: str
    start_line: int | None = None
    end_line: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "start_line": self.start_line,
                "end_line": self.end_line if self.end_line is not None else self.start_line}


class MasonError(Exception):
    """Base class of every error mason raises deliberately."""

    exit_code = 1
    # An error of the whole build (a flag, a push permission), raised inside whichever step
    # happened to wait for it: no Dockerfile line is attached to it.
    of_the_build = False

    def __init__(self, message: str, *, hint: str | None = None, source: SourceRange | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self._source = source

    @property
    def source(self) -> SourceRange | None:
        """The input lines this error is about, when known."""
        return self._source

    @source.setter
    def source(self, value: SourceRange | None) -> None:
        self._source = value

    def __str__(self) -> str:
        return self.message


class UsageError(MasonError):
    exit_code = 2


class DockerfileError(MasonError):
    """A Dockerfile problem; ``file``/``line``/``column`` locate it when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, hint: str | None = None, end_line: int | None = None):
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.column = column
        self.end_line = end_line

    @property
    def source(self) -> SourceRange | None:
        if self._source is None and (self.file is not None or self.line is not None):
            return SourceRange(self.file or "Dockerfile", self.line, self.end_line)
        return self._source

    @source.setter
    def source(self, value: SourceRange | None) -> None:
        self._source = value

    def location(self) -> str:
        """``file:line``; a multi-line instruction as ``file:start-end`` (BuildKit shows the range)."""
        parts = [self.file or "Dockerfile"]
        if self.line is not None:
            if self.end_line is not None and self.end_line > self.line and self.column is None:
                parts.append(f"{self.line}-{self.end_line}")
            else:
                parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        if self.line is None and self.file is None:
            return self.message
        return f"{self.location()}: {self.message}"


class InvalidReferenceError(MasonError):
    """An image reference that does not parse."""

    exit_code = 2


class ImageError(MasonError):
    """An image, manifest, index or config that is invalid or cannot be used."""


class DigestMismatchError(ImageError):
    """Content did not hash to (or have the size of) its descriptor."""


class LayerError(MasonError):
    """A layer archive that is malformed or tries to escape the root."""


class RegistryError(MasonError):
    """A registry answered with an error.

    ``codes`` holds the registry's own diagnostic codes (e.g. ``MANIFEST_UNKNOWN``),
    ``status`` the HTTP status, ``temporary`` whether a retry may help.
    """

    exit_code = 3

    def __init__(self, message: str, *, status: int | None = None, codes: tuple[str, ...] = (),
                 method: str | None = None, url: str | None = None, temporary: bool = False,
                 hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = tuple(codes)
        self.method = method
        self.url = url
        self.temporary = temporary


class AuthError(RegistryError):
    """Authentication or authorisation failed (401/403, DENIED, UNAUTHORIZED)."""


class NotFoundError(RegistryError):
    """The registry does not have the manifest, blob or repository."""


class BuildError(MasonError):
    """A build step failed."""


class NotSupportedError(MasonError):
    """Valid syntax or flag that mason does not implement: refused, never ignored."""

    exit_code = 2
