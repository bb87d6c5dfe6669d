"""``parse_dockerfile``: text -> ``Dockerfile`` (directives + typed instructions), fail-fast."""

from __future__ import annotations

from dataclasses import dataclass, field

from mason.dockerfile.build import build_instruction
from mason.dockerfile.instructions import Arg, From, Instruction
from mason.dockerfile.parser import parse
from mason.dockerfile.syntax import Diagnostic, ParseTree
from mason.errors import DockerfileError


@dataclass(frozen=True)
class Dockerfile:
    """A parsed, validated Dockerfile. ``instructions`` are in file order, global ARGs first."""

    file: str
    directives: tuple[tuple[str, str], ...]
    escape: str
    instructions: tuple[Instruction, ...]
    warnings: tuple[Diagnostic, ...] = ()
    tree: ParseTree | None = field(default=None, compare=False, repr=False)

    def directive(self, name: str) -> str | None:
        return dict(self.directives).get(name.lower())


def check_order(instructions, file: str) -> None:
    """Only ARG may precede the first FROM, and there must be a FROM."""
    for instruction in instructions:
        if isinstance(instruction, From):
            return
        if not isinstance(instruction, Arg):
            raise DockerfileError(f"no build stage in current context: {instruction.name} comes before any FROM",
                                  file=file, line=instruction.location.start_line,
                                  hint="only ARG instructions may come before the first FROM")
    last = instructions[-1].location.end_line if instructions else 1
    raise DockerfileError("dockerfile contains no stages to build", file=file, line=last,
                          hint="add a FROM instruction")


def parse_dockerfile(text: str, *, file: str = "Dockerfile") -> Dockerfile:
    """Parse and validate; the first problem raises ``DockerfileError`` naming file and line."""
    tree = parse(text, file=file)
    built = tuple(build_instruction(node, tree.escape) for node in tree.nodes)
    check_order(built, file)
    return Dockerfile(file=file, directives=tree.directives, escape=tree.escape, instructions=built,
                      warnings=tree.warnings, tree=tree)
