"""Kaniko's digest files, written exactly as Kaniko writes them.

``--digest-file``: the image's manifest digest, no newline. ``--image-name-with-digest-file``:
``<repository>@<digest>`` per destination, one per line (each ending in a newline).
``--image-name-tag-with-digest-file``: ``<repository>:<tag>@<digest>`` per line. Repository
names are normalised as go-containerregistry does (``alpine`` becomes
``index.docker.io/library/alpine``, a missing tag is ``latest``), because that is what scripts
reading Kaniko's files already parse. Kaniko writes them even with ``--no-push``.

They are written by the CLI, not the executor: they are a pure function of the options and
the executor's result, and ``mason bake`` writes its own per-image outputs the same way.
"""

from __future__ import annotations

from pathlib import Path

from mason.errors import InvalidReferenceError

DOCKER_HUB = "index.docker.io"


def split_reference(reference: str) -> tuple[str, str]:
    """``(repository name, tag)`` of a tagged reference, normalised as go-containerregistry does."""
    if "@" in reference:
        raise InvalidReferenceError(f"{reference!r}: a destination must be a tag, not a digest")
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        repo, tag = reference[:colon], reference[colon + 1:]
    else:
        repo, tag = reference, "latest"
    if not repo or not tag:
        raise InvalidReferenceError(f"{reference!r}: not an image reference")
    first, sep, rest = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, repo
    if registry in ("docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return f"{registry}/{path}", tag


def repository_name(reference: str) -> str:
    return split_reference(reference)[0]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)


def write_digest_files(options, image_digest: str) -> None:
    """Write the files ``options`` asks for (``BuildOptions`` fields), for every destination."""
    if options.digest_file:
        _write(options.digest_file, image_digest)
    if options.image_name_with_digest_file:
        _write(options.image_name_with_digest_file,
               "".join(f"{repository_name(d)}@{image_digest}\n" for d in options.destinations))
    if options.image_name_tag_with_digest_file:
        lines = []
        for dest in options.destinations:
            repo, tag = split_reference(dest)
            lines.append(f"{repo}:{tag}@{image_digest}\n")
        _write(options.image_name_tag_with_digest_file, "".join(lines))
