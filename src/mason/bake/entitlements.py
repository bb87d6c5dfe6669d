"""Entitlements in a bake: what an image's RUN may ask for, as ``docker buildx bake`` has it.

An image lists the entitlements its Dockerfile needs (``entitlements: [network.host]``, the
key buildx targets have); the person running the bake grants them with ``--allow`` (as for
``mason build``). Each image's build is granted exactly what it lists: an image that does not
list ``network.host`` gets no ``RUN --network=host`` even when another image of the same bake
is allowed it. An image listing an entitlement the command line does not grant is refused
before anything is built, every such image named at once (buildx: "target requires
entitlement", with the ``--allow`` to pass).
"""

from __future__ import annotations

from mason.errors import UsageError
from mason.sandbox import entitlements as known


def check_names(values, where: str) -> tuple[str, ...]:
    """The ``entitlements`` of one image, each a known one (``where`` names the file and line)."""
    out = []
    for value in values:
        if not isinstance(value, str) or value not in known.ENTITLEMENTS:
            raise UsageError(f"{where}: entitlements: unknown entitlement {value!r}",
                             hint=f"mason knows {' and '.join(known.ENTITLEMENTS)}")
        if value not in out:
            out.append(value)
    return tuple(out)


def granted_per_image(bake, allowed: frozenset[str]) -> dict[str, frozenset[str]]:
    """What each image's build is granted; refuses every image asking for more than ``--allow``."""
    missing = []
    for name, image in bake.images.items():
        lacking = [e for e in image.entitlements if e not in allowed]
        if lacking:
            missing.append((name, image.line, lacking))
    if missing:
        lines = [f"{bake.path}:{line}: image {name!r} requires entitlement {', '.join(map(repr, lacking))}"
                 for name, line, lacking in missing]
        needed = sorted({e for _, _, lacking in missing for e in lacking})
        raise UsageError("; ".join(lines) + ", which this bake does not grant",
                         hint="pass " + " ".join(f"--allow {e}" for e in needed)
                              + " if those Dockerfiles are trusted with it")
    return {name: frozenset(image.entitlements) for name, image in bake.images.items()}
