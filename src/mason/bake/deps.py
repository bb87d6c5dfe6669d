"""Dependencies between bake images that the Dockerfiles imply.

An image whose Dockerfile says ``FROM registry.example.com/group/base:1`` (or ``COPY
--from=`` that reference) while another image of the same bake file pushes
``registry.example.com/group/base:1`` must be built after it, whether or not the bake file
says ``depends_on``: otherwise a parallel bake pulls yesterday's base, or none. The
Dockerfiles are read with mason's own front end (``parse_dockerfile`` + ``plan_stages``, so
``FROM ${BASE}`` with a build-arg resolves as the build will resolve it).

Only local contexts are read (a URL context would have to be fetched twice); a Dockerfile
that cannot be read or parsed adds no dependency here, and its build reports the error.

References are compared symbolically when they hold shell variables: ``mason ci generate``
sees destinations such as ``${CI_REGISTRY_IMAGE}/api:${CI_COMMIT_SHORT_SHA}`` that only the
CI job's shell expands, and a build-arg carrying the same text into ``FROM ${BASE}``. Each
variable becomes an opaque token (``$X`` and ``${X}`` the same token), so the rest of the
reference is still normalised (default tag, ``docker.io/library``) without guessing a value.
"""

from __future__ import annotations

import dataclasses
import re

from mason.bake.model import BakeFile, ImageSpec
from mason.errors import MasonError, UsageError


_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def reference_key(text: str) -> tuple[str, str] | None:
    """A comparable form of a reference: (name, tag-or-digest); None if it is no reference.

    Variables are replaced by tokens made of their names (hex, so a token is a valid path
    component and tag and cannot collide with literal text of the same reference)."""
    from mason.oci.reference import parse_reference

    if "$" in text:
        tokens: dict[str, str] = {}

        def token(match: re.Match) -> str:
            name = match.group(1) or match.group(2)
            tokens[name] = "zv" + name.encode().hex() + "vz"
            return tokens[name]

        text = _VARIABLE.sub(token, text)
        if "$" in text:
            return None   # ${VAR:-default} and other shell forms: not compared
    try:
        ref = parse_reference(text)
    except MasonError:
        return None
    return ref.name, ref.digest or ref.tag or "latest"


_key = reference_key


def referenced_images(bake: BakeFile, image: ImageSpec) -> tuple[str, ...]:
    """External images the build of ``image`` reads: stage bases and ``COPY --from`` images."""
    from mason.dockerfile import parse_dockerfile, plan_stages
    from mason.oci.platform import host_platform

    if image.context_is_url:
        return ()
    path = bake.dockerfile_path(image.name)
    refs: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
        host = host_platform()
        plat = f"{host.os}/{host.architecture}" + (f"/{host.variant}" if host.variant else "")
        for target_platform in image.platforms or (image.platform or plat,):   # each platform's FROM lines
            plan = plan_stages(parse_dockerfile(text, file=str(path)), build_args=dict(image.build_args),
                               target=image.target, target_platform=target_platform, build_platform=plat)
            for stage in plan.needed():
                if stage.base_stage is None and stage.base != "scratch":
                    refs.append(stage.base)
                refs.extend(stage.external_sources)
    except (OSError, UnicodeDecodeError, MasonError):
        return ()
    return tuple(dict.fromkeys(refs))


def with_inferred_dependencies(bake: BakeFile) -> tuple[BakeFile, dict[str, tuple[str, ...]]]:
    """The bake file with ``depends_on`` extended by what the Dockerfiles imply.

    Returns ``(bake, inferred)`` where ``inferred`` maps an image to the dependencies added
    (for the log). A cycle made by the inferred edges is a UsageError naming the images.
    """
    pushed_by: dict[tuple[str, str], str] = {}
    for image in bake.images.values():
        for dest in image.destinations:
            key = _key(dest)
            if key is not None:
                pushed_by[key] = image.name
    inferred: dict[str, tuple[str, ...]] = {}
    images = dict(bake.images)
    for name, image in bake.images.items():
        extra = []
        for ref in referenced_images(bake, image):
            owner = pushed_by.get(_key(ref) or ("", ""))
            if owner and owner != name and owner not in image.depends_on and owner not in extra:
                extra.append(owner)
        if extra:
            inferred[name] = tuple(extra)
            images[name] = dataclasses.replace(image, depends_on=image.depends_on + tuple(extra))
    result = dataclasses.replace(bake, images=images)
    _check_acyclic(result)
    return result, inferred


def _check_acyclic(bake: BakeFile) -> None:
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise UsageError(f"{bake.path}: dependency cycle (depends_on and FROM lines): {' -> '.join(cycle)}")
        state[name] = 1
        for dep in bake.images[name].depends_on:
            if dep not in bake.images:
                raise UsageError(f"{bake.path}: image {name!r} depends on unknown image {dep!r}",
                                 hint=f"images: {', '.join(bake.images)}")
            visit(dep, path + [name])
        state[name] = 2

    for name in bake.images:
        visit(name, [])
