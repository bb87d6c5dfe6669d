"""The context's ``.dockerignore`` as the matcher ``mason.fsops`` expects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mason.dockerfile import DockerIgnore
from mason.dockerfile.dockerignore import dockerignore_candidates


@dataclass(frozen=True)
class IgnoreMatcher:
    rules: DockerIgnore
    source: str

    @property
    def has_exceptions(self) -> bool:
        return self.rules.has_exclusions

    def matches(self, relpath: str) -> bool:
        return self.rules.excludes(relpath)


def load_ignore(context_dir: Path, dockerfile: Path | None) -> IgnoreMatcher | None:
    """``<Dockerfile>.dockerignore`` beside the Dockerfile wins over the context's ``.dockerignore``."""
    beside, at_root = dockerignore_candidates(str(dockerfile) if dockerfile else "Dockerfile")
    for path in ([Path(beside)] if dockerfile else []) + [context_dir / at_root]:
        if path.is_file():
            return IgnoreMatcher(DockerIgnore.parse(path.read_text(encoding="utf-8")), str(path))
    return None
