"""The context's ``.dockerignore``: which file applies, read under the context's symlink policy,
parsed into the one ``.dockerignore``-dialect matcher (``mason.fsops.pathmatch.PatternList``,
also used for ``COPY --exclude``).

File syntax (BuildKit's): a UTF-8 BOM is dropped, a ``#`` in column 0 starts a comment, lines
are trimmed, empty lines are skipped, ``!`` re-includes. ``<Dockerfile>.dockerignore`` beside
the Dockerfile wins over the context's ``.dockerignore``.
"""

from __future__ import annotations

import os

from mason.context.confined import read_text
from mason.errors import BuildError
from mason.fsops.pathmatch import PatternList


def ignore_candidates(dockerfile_name: str) -> tuple[str, ...]:
    """Ignore files to try, first existing wins: ``<Dockerfile path>.dockerignore`` (next to
    the Dockerfile), then ``.dockerignore`` at the context root."""
    return (dockerfile_name + ".dockerignore", ".dockerignore")


def parse_ignore(text: str, source: str = ".dockerignore") -> PatternList:
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [line.strip() for line in text.splitlines() if not line.startswith("#")]
    try:
        return PatternList([line for line in lines if line], source=source)
    except BuildError as exc:
        raise BuildError(f"{source}: {exc.message}") from None


def load_ignore(context_dir, dockerfile) -> PatternList | None:
    """The matcher of the ignore file that applies, or None when there is none."""
    beside, at_root = ignore_candidates(str(dockerfile) if dockerfile else "Dockerfile")
    for path in ([beside] if dockerfile else []) + [os.path.join(str(context_dir), at_root)]:
        text = read_text(str(context_dir), path, ".dockerignore")
        if text is not None:
            return parse_ignore(text, source=path)
    return None
