"""ONBUILD triggers: a base image's ``OnBuild`` list becomes instructions that run first in
the child stage, right after its FROM (before any instruction of the child)."""

from __future__ import annotations

from collections.abc import Iterable

from mason.dockerfile.build import build_instruction
from mason.dockerfile.instructions import Instruction
from mason.dockerfile.parser import parse
from mason.errors import DockerfileError


def onbuild_instructions(triggers: Iterable[str], *, image: str = "base image",
                         escape: str = "\\") -> list[Instruction]:
    """Parse each trigger expression (heredoc bodies included) into a typed instruction.

    Errors name the image and the trigger, since the text comes from the image, not from
    the user's Dockerfile. ``ONBUILD``, ``FROM`` and ``MAINTAINER`` triggers are refused.
    """
    out: list[Instruction] = []
    source = f"ONBUILD trigger of {image}"
    for n, expression in enumerate(triggers, 1):
        text = expression if escape == "\\" else f"# escape={escape}\n{expression}"
        try:
            tree = parse(text, file=f"{source} #{n}")
        except DockerfileError as exc:
            raise DockerfileError(f"{source} #{n} ({expression.splitlines()[0] if expression else ''!r}): "
                                  f"{exc.message}") from None
        if len(tree.nodes) != 1:
            raise DockerfileError(f"{source} #{n}: expected exactly one instruction, got {len(tree.nodes)}")
        node = tree.nodes[0]
        if node.cmd in ("onbuild", "from", "maintainer"):
            raise DockerfileError(f"{source} #{n}: {node.cmd.upper()} isn't allowed as an ONBUILD trigger")
        out.append(build_instruction(node, tree.escape))
    return out
