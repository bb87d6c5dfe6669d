"""Image locations as written on the command line, opened as sources or sinks.

    oci:DIR[:REF]                OCI image layout directory (REF: org.opencontainers.image.ref.name)
    docker-archive:FILE[:NAME]   docker save/load tarball (NAME: a RepoTags entry)
    scratch                      the empty image (source only)
    [REGISTRY/]REPO[:TAG][@DIGEST]  an image in a registry
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mason.errors import UsageError
from mason.oci.platform import Platform


@dataclass(frozen=True)
class Location:
    """Where an image is: a registry, an OCI layout, a docker archive, or scratch."""

    kind: str                  # "oci", "docker-archive", "scratch", "registry"
    path: str | None = None
    name: str | None = None    # layout ref / archive tag
    reference: Any = None      # mason.oci.reference.Reference for registries

    def __str__(self) -> str:
        if self.kind == "registry":
            return str(self.reference)
        if self.kind == "scratch":
            return "scratch"
        return f"{self.kind}:{self.path}" + (f":{self.name}" if self.name else "")


def parse_location(text: str) -> Location:
    if text == "scratch":
        return Location("scratch")
    for kind in ("oci", "docker-archive"):
        if text.startswith(kind + ":"):
            rest = text[len(kind) + 1:]
            # The path ends at the first ':' (as skopeo does); what follows names the image.
            path, _, name = rest.partition(":")
            if not path:
                raise UsageError(f"{text!r}: {kind}: needs a path, e.g. {kind}:/tmp/image")
            return Location(kind, path, name or None)
    if text.split(":", 1)[0] in ("docker", "docker-daemon", "dir", "oci-archive", "containers-storage"):
        raise UsageError(f"{text!r}: transport {text.split(':', 1)[0]!r} is not supported",
                         hint="use REGISTRY/REPO:TAG, oci:DIR[:REF], docker-archive:FILE[:NAME] or scratch")
    from mason.oci.reference import parse_reference

    return Location("registry", reference=parse_reference(text))


def open_source(location: Location, client_factory: Callable[[], Any], platform: Platform | None = None, *,
                routes=None, retries: int = 0, info: Callable[[str], None] | None = None,
                warn: Callable[[str], None] | None = None):
    """The view at ``location``; ``client_factory`` builds the registry client only when needed.

    For a registry image, ``routes`` (a ``mason.registry.mirrors.PullRoutes``) and ``retries``
    (``--image-download-retry``) say where and how often to try (``mason.image.routed``);
    ``info``/``warn`` receive the log lines naming where it was pulled from.
    """
    if location.kind == "scratch":
        from mason.image.memory import scratch_image

        return scratch_image(platform)
    if location.kind == "oci":
        from mason.image.layout import open_layout

        return open_layout(location.path, location.name)
    if location.kind == "docker-archive":
        from mason.image.docker_archive import open_docker_archive

        return open_docker_archive(location.path, location.name)
    from mason.image.routed import open_routed
    from mason.registry.mirrors import NO_ROUTES

    quiet = lambda message: None  # noqa: E731
    view, _ = open_routed(client_factory(), location.reference, routes or NO_ROUTES, retries=retries,
                          info=info or quiet, warn=warn or quiet)
    return view


def open_sink(location: Location, client_factory: Callable[[], Any], jobs: int = 4):
    if location.kind == "scratch":
        raise UsageError("scratch is a source only; it cannot be written to")
    if location.kind == "oci":
        from mason.image.layout import LayoutSink

        sink = LayoutSink(location.path, location.name)
        sink.max_workers = jobs
        return sink
    if location.kind == "docker-archive":
        from mason.image.docker_archive import DockerArchiveSink

        return DockerArchiveSink(location.path, location.name)
    from mason.image.remote import RemoteSink

    return RemoteSink(client_factory(), location.reference, max_workers=jobs)
