"""Changing a loaded bake file: ``--set IMAGE.KEY=VALUE`` and ``$VARIABLE`` expansion.

``--set`` follows ``docker buildx bake --set``: ``IMAGE`` is an image name or ``*`` (every
image), ``KEY`` one of the bake file's keys, ``build_args.NAME`` / ``labels.NAME`` set one
entry, lists (``destinations``, ``depends_on``) take comma-separated values. An unknown image
or key is an error with a suggestion: a typo must not silently build something else.

``$VAR`` / ``${VAR}`` in string values are expanded from the environment mapping, as the
shell expands them in the jobs ``mason ci generate`` writes for the same bake file (so
``destinations: ["$CI_REGISTRY_IMAGE/app:$CI_COMMIT_SHORT_SHA"]`` means the same thing in
both). Unlike the shell, an unset variable is an error naming the image and the variable.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Mapping

from mason.bake.model import IMAGE_KEYS, BakeFile, ImageSpec
from mason.errors import UsageError

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_BOOLS = {"true": True, "false": False}


def apply_sets(bake: BakeFile, sets: list[str] | tuple[str, ...]) -> BakeFile:
    images = dict(bake.images)
    for raw in sets:
        target, dot, rest = raw.partition(".")
        key, eq, value = rest.partition("=")
        if not dot or not eq or not target or not key:
            raise UsageError(f"--set {raw!r}: expected IMAGE.KEY=VALUE (IMAGE may be *)")
        if target == "*":
            names = list(images)
        elif target in images:
            names = [target]
        else:
            close = difflib.get_close_matches(target, list(images), n=1)
            raise UsageError(f"--set {raw!r}: no image {target!r} in {bake.path}",
                             hint=f"did you mean {close[0]!r}?" if close else f"images: {', '.join(images)}")
        for name in names:
            images[name] = _set(images[name], key, value, raw)
    return dataclasses.replace(bake, images=images)


def _set(image: ImageSpec, key: str, value: str, raw: str) -> ImageSpec:
    field, _, entry = key.partition(".")
    if field in ("build_args", "labels"):
        if not entry:
            raise UsageError(f"--set {raw!r}: write {field}.NAME=VALUE")
        return dataclasses.replace(image, **{field: {**getattr(image, field), entry: value}})
    if entry or field not in IMAGE_KEYS:
        close = difflib.get_close_matches(key, IMAGE_KEYS, n=1)
        raise UsageError(f"--set {raw!r}: unknown key {key!r}",
                         hint=f"did you mean {close[0]!r}?" if close else f"keys: {', '.join(IMAGE_KEYS)}")
    if field in ("cache", "no_push", "reproducible"):
        if value.lower() not in _BOOLS:
            raise UsageError(f"--set {raw!r}: {field} must be true or false")
        return dataclasses.replace(image, **{field: _BOOLS[value.lower()]})
    if field == "entitlements":
        from mason.bake.entitlements import check_names

        return dataclasses.replace(image, entitlements=check_names([v for v in value.split(",") if v],
                                                                   f"--set {raw!r}"))
    if field in ("destinations", "depends_on", "platforms"):
        return dataclasses.replace(image, **{field: tuple(v for v in value.split(",") if v)})
    if not value and field in ("context", "dockerfile"):
        raise UsageError(f"--set {raw!r}: {field} must not be empty")
    return dataclasses.replace(image, **{field: value or None})


def expand_variables(bake: BakeFile, env: Mapping[str, str]) -> BakeFile:
    """Every string value with ``$VAR``/``${VAR}`` expanded from ``env``."""

    def expand(text: str | None, where: str, image: ImageSpec) -> str | None:
        if text is None or "$" not in text:
            return text

        def one(match: re.Match) -> str:
            name = match.group(1) or match.group(2)
            if name not in env:
                raise UsageError(f"{bake.path}:{image.line}: image {image.name!r}: {where} uses ${name}, "
                                 "which is not set in the environment")
            return env[name]

        return _VAR.sub(one, text)

    images = {}
    for name, image in bake.images.items():
        changes: dict = {}
        for field in ("context", "dockerfile", "target", "platform", "cache_repo"):
            changes[field] = expand(getattr(image, field), field, image)
        changes["destinations"] = tuple(expand(d, "destinations", image) for d in image.destinations)
        for field in ("build_args", "labels"):
            changes[field] = {k: expand(v, f"{field}.{k}", image) for k, v in getattr(image, field).items()}
        images[name] = dataclasses.replace(image, **changes)
    return dataclasses.replace(bake, images=images)
