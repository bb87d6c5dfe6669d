"""``check_dockerfile``: every error and warning of a Dockerfile, for ``mason dockerfile check``.

Parse errors are fatal (BuildKit stops there too); after that each instruction is validated
on its own so that all invalid instructions are reported, then the stage graph is checked.
Warnings follow BuildKit's build checks (rule names in brackets).
"""

from __future__ import annotations

from mason.dockerfile import instructions as ins
from mason.dockerfile.build import build_instruction
from mason.dockerfile.document import Dockerfile, check_order
from mason.dockerfile.parser import parse
from mason.dockerfile.stages import plan_stages
from mason.dockerfile.syntax import Diagnostic
from mason.dockerfile.values import parse_port
from mason.errors import DockerfileError


def _error(exc: DockerfileError, file: str) -> Diagnostic:
    msg = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    return Diagnostic(msg, exc.file or file, exc.line or 1, exc.column or 1, severity="error")


def check_dockerfile(text: str, *, file: str = "Dockerfile", build_args=None, target: str | None = None
                     ) -> list[Diagnostic]:
    """All diagnostics, errors first in line order, then warnings in line order."""
    try:
        tree = parse(text, file=file)
    except DockerfileError as exc:
        return [_error(exc, file)]
    out: list[Diagnostic] = list(tree.warnings)
    built = []
    for node in tree.nodes:
        try:
            built.append(build_instruction(node, tree.escape))
        except DockerfileError as exc:
            out.append(_error(exc, file))
        if node.child is not None and node.child.cmd not in ("onbuild", "from", "maintainer"):
            try:
                build_instruction(node.child, tree.escape)
            except DockerfileError as exc:
                out.append(Diagnostic(f"ONBUILD trigger is invalid and will fail in child builds: {exc.message}",
                                      file, node.location.start_line, rule="InvalidOnbuildTrigger"))
    errors_so_far = any(d.severity == "error" for d in out)
    if not errors_so_far:
        try:
            check_order(built, file)
            df = Dockerfile(file, tree.directives, tree.escape, tuple(built), tree.warnings, tree)
            out.extend(plan_stages(df, build_args=build_args or {}, target=target).warnings)
        except DockerfileError as exc:
            out.append(_error(exc, file))
    out.extend(_lint(tree, built, file))
    return sorted(out, key=lambda d: (d.severity != "error", d.line))


def _warn(out, msg, instruction, rule):
    out.append(Diagnostic(msg, instruction.location.file, instruction.location.start_line, rule=rule))


def _lint(tree, built, file) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    def first_word(node) -> str:
        return (node.original.split(None, 1) or [""])[0]

    upper = sum(1 for n in tree.nodes if first_word(n).isupper())
    majority_upper = upper * 2 >= len(tree.nodes)
    for node in tree.nodes:
        word = first_word(node)
        if word and (majority_upper and not word.isupper()) or (not majority_upper and not word.islower()):
            case = "uppercase" if majority_upper else "lowercase"
            out.append(Diagnostic(f"Command '{word}' should match the case of the command majority ({case})",
                                  file, node.location.start_line, rule="ConsistentInstructionCasing"))
    seen_cmd: dict[str, int] = {}
    for instruction in built:
        if isinstance(instruction, ins.From):
            seen_cmd = {}
            words = instruction.original.split()
            as_words = [w for w in words[1:] if w.lower() == "as"]
            if as_words and words[0].isupper() != as_words[0].isupper():
                _warn(out, "'as' and 'FROM' keywords' casing do not match", instruction, "FromAsCasing")
            if instruction.stage_name and any(w.lower() == instruction.stage_name and w != w.lower() for w in words):
                _warn(out, f"Stage name '{words[-1]}' should be lowercase", instruction, "StageNameCasing")
        elif isinstance(instruction, ins.Maintainer):
            _warn(out, "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
                  instruction, "MaintainerDeprecated")
        elif isinstance(instruction, ins.Env) and instruction.legacy:
            _warn(out, f'"{instruction.name} key=value" should be used instead of legacy '
                       f'"{instruction.name} key value" format', instruction, "LegacyKeyValueFormat")
        elif isinstance(instruction, (ins.Cmd, ins.Entrypoint)):
            if instruction.prepend_shell and instruction.command:
                _warn(out, f"JSON arguments recommended for {instruction.name} to prevent unintended behavior "
                           "related to OS signals", instruction, "JSONArgsRecommended")
        elif isinstance(instruction, ins.Expose):
            for port in instruction.ports:
                if "$" in port:
                    continue
                try:
                    parse_port(port)
                except ValueError as exc:
                    out.append(Diagnostic(str(exc), file, instruction.location.start_line, severity="error"))
                    continue
                if "/" in port and port.split("/", 1)[1] != port.split("/", 1)[1].lower():
                    _warn(out, f"Defined protocol '{port}' in EXPOSE instruction should be lowercase",
                          instruction, "ExposeProtoCasing")
        if isinstance(instruction, (ins.Cmd, ins.Entrypoint, ins.Healthcheck)):
            if instruction.name in seen_cmd:
                _warn(out, f"Multiple {instruction.name} instructions should not be used in the same stage "
                           "because only the last one will be used", instruction, "MultipleInstructionsDisallowed")
            seen_cmd[instruction.name] = instruction.location.start_line
    return out
