"""What the Dockerfile's parser directives mean for a build.

``# syntax=`` names a BuildKit frontend image. mason has one frontend, its own, which reads the
stable Dockerfile syntax (``docker/dockerfile``, any tag, labs included); any other frontend
may read a different language, so it is refused rather than parsed as if it were ours.
``# check=skip=<rules|all>;error=<bool>`` configures build checks as in BuildKit: skipped rules
are not reported, and with ``error=true`` a reported check fails the build.
"""

from __future__ import annotations

import re

from mason.errors import DockerfileError, NotSupportedError

_OUR_FRONTEND = re.compile(r"^(?:(?:docker\.io/)?docker/dockerfile|dockerfile)(?::[\w.\-]+)?(?:@sha256:[0-9a-f]{64})?$")


def check_syntax(directives: dict[str, str], file: str, text: str = "") -> None:
    value = directives.get("syntax")
    if value is not None and not _OUR_FRONTEND.match(value.strip()):
        # the directive's line (directives are in the leading comments), as BuildKit locates it
        line = next((n for n, row in enumerate(text.splitlines(), 1)
                     if re.match(r"\s*#\s*syntax\s*=", row, re.I)), None)
        where = f"{file}:{line}" if line else file
        raise NotSupportedError(f"{where}: # syntax={value}: mason reads Dockerfiles with its own frontend "
                                "(the docker/dockerfile syntax); other frontends are not supported",
                                hint="remove the directive or use # syntax=docker/dockerfile:1")


def apply_checks(directives: dict[str, str], warnings, file: str) -> list:
    """The warnings to report after ``# check=`` (raises when ``error=true`` and any remain)."""
    skip: set[str] = set()
    error = False
    for part in filter(None, (p.strip() for p in directives.get("check", "").split(";"))):
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise DockerfileError(f"# check={directives['check']}: expected key=value parts", file=file, line=1)
        if key == "skip":
            skip |= {v.strip() for v in value.split(",") if v.strip()}
        elif key == "error":
            if value.lower() not in ("true", "false"):
                raise DockerfileError(f"# check: error={value} is not true or false", file=file, line=1)
            error = value.lower() == "true"
        else:
            raise DockerfileError(f"# check: unknown option {key!r} (use skip= and error=)", file=file, line=1)
    kept = [w for w in warnings if "all" not in skip and getattr(w, "rule", "") not in skip]
    if error and kept:
        raise DockerfileError(f"build checks failed (# check=error=true): {kept[0]}"
                              + (f" and {len(kept) - 1} more" if len(kept) > 1 else ""), file=file)
    return kept
