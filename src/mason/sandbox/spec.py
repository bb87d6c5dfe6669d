"""What a RUN step asks of a sandbox: a frozen value, independent of how it is isolated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mason.errors import NotSupportedError
from mason.sandbox.users import ExecUser


# What a RUN gets (mason.sandbox.confinement): its network, and BuildKit's security mode.
Network = Literal["sandbox", "host", "none"]
Security = Literal["sandbox", "insecure"]


@dataclass(frozen=True)
class Mount:
    """An extra mount for one RUN (``RUN --mount``), target absolute inside the root.

    ``kind="bind"``: ``source`` is a host file or directory (a secret is a read-only bind of a
    file); ``kind="tmpfs"``: an empty tmpfs with ``mode``.  ``readonly`` defaults to True for
    binds (``RUN --mount=type=bind`` is read-only unless ``rw``) and False for tmpfs.
    """

    target: str
    kind: Literal["bind", "tmpfs"] = "bind"
    source: Path | None = None
    readonly: bool | None = None
    mode: int = 0o755
    size_bytes: int | None = None
    # A cache (``RUN --mount=type=cache``): where mounts are refused, the source directory itself
    # is moved into place for the RUN and back (mason.sandbox.mountemu), so it persists.
    move: bool = False
    # A secret: ``source`` is an in-memory file (mason.sandbox.secretfile) that cannot be bind-
    # mounted as is; the privileged helper copies it into its /dev tmpfs and binds that copy.
    in_memory: bool = False

    def __post_init__(self) -> None:
        if self.readonly is None:
            object.__setattr__(self, "readonly", self.kind == "bind")
        if not self.target.startswith("/"):
            raise NotSupportedError(f"mount target {self.target!r} must be an absolute path")
        if self.kind == "bind" and self.source is None:
            raise NotSupportedError(f"bind mount at {self.target} needs a source")
        if self.kind not in ("bind", "tmpfs"):
            raise NotSupportedError(f"mount type {self.kind!r} at {self.target} is not supported by the sandbox")


@dataclass(frozen=True)
class RunSpec:
    """One command to run with ``root`` as ``/``.

    ``env`` is passed exactly as given (``KEY=value`` strings); the caller merges image ENV,
    ARGs, HOME and the default PATH.  ``cwd`` is created (owned by the user) when missing.
    """

    root: Path
    argv: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: ExecUser = field(default_factory=lambda: ExecUser(0, 0, (), "/root"))
    cwd: str = "/"
    mounts: tuple[Mount, ...] = ()
    # sandbox: a network namespace of its own with user-mode networking (mason.sandbox.usernet);
    # none: its own namespace with only loopback; host: the builder's (entitlement network.host).
    network: Network = "sandbox"
    # sandbox: BuildKit's default confinement (mason.sandbox.confinement); insecure: none
    # (entitlement security.insecure).
    security: Security = "sandbox"
    host_loopback: bool = False   # network=sandbox: the gateway 10.0.2.2 leads to the builder's 127.0.0.1
    hostname: str = "mason"
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise NotSupportedError("RUN needs a command")
        if self.network not in ("sandbox", "host", "none"):
            raise NotSupportedError(f"RUN --network={self.network} is not supported (use default, host or none)")
        if self.security not in ("sandbox", "insecure"):
            raise NotSupportedError(f"RUN --security={self.security} is not supported (use sandbox or insecure)")
        if not self.cwd.startswith("/"):
            raise NotSupportedError(f"working directory {self.cwd!r} must be absolute")
