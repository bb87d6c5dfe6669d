"""A job's ``script`` as pieces of text, each holding at most one build, for ``mason ci fix``.

A piece is a script entry's text (its leading comments, its dash, its lines) or part of one:

* a ``|`` literal block running several builds is cut between its commands;
* a ``for x in a b c; do … done`` loop over a literal list becomes one piece per value;
* an entry that is a ``!reference [job, key]`` or an alias (``- *name``) of a list that holds
  builds is replaced by the referenced items, copied from where they are written;
* other entries stay whole (a reference or alias without builds stays a reference).

Each piece has a kind: ``build``, ``log`` (only ``echo``/``printf`` to the log), ``state``
(shell state or files a later build may rely on: ``export``, ``cd``, ``mkdir``, writes with
``>``) or ``other``. The fixer decides from the kinds where each piece may go; here a construct
that cannot be cut faithfully raises :class:`Refused` saying which one and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mason.ci.fixtext import drop_anchor, sequence_items
from mason.ci.invocation import Invocation, find_invocations
from mason.ci.located import LocStr
from mason.ci.shellwords import split_commands

_LOG = frozenset({"echo", "printf", "true", ":"})
_STATE = frozenset({"export", "unset", "cd", "set", "source", ".", "alias", "umask", "mkdir", "shopt"})
_CONTROL = frozenset({"if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do",
                      "done", "{", "}", "function"})
_FOR = re.compile(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+([^;\n]*?)\s*(?:;|\n)\s*do\b")
_LITERAL_WORD = re.compile(r"^[A-Za-z0-9._/:@+-]+$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Flags whose build writes a file in the job's container that a later command may read.
OUTPUT_FLAGS = ("digest-file", "image-name-with-digest-file", "image-name-tag-with-digest-file", "tar-path",
                "oci-layout-path", "metadata-file", "cache-report")
MAX_DEPTH = 10


class Refused(Exception):
    pass


@dataclass
class Piece:
    lines: list[str]                  # source text, in its own indentation
    col: int                          # the dash's column in that text
    kind: str                         # build | log | state | other
    invocation: Invocation | None = None
    name_hint: str | None = None      # a loop value: names the job
    where: str = ""                   # file:line, for messages
    block: str | None = None          # the | block it was cut from: adjacent parts join again
    head: int = 0                     # lines before its part of the block (comments, dash line)


class Sources:
    """Every file of the pipeline as ruamel documents and lines (the main file first)."""

    def __init__(self, pipeline, main_doc, main_lines: list[str]):
        from mason.yamlio import load_path

        self.files: list[tuple[str, object, list[str]]] = [(str(pipeline.path), main_doc, main_lines)]
        for path in pipeline.files[1:]:
            doc, text = load_path(path)
            self.files.append((str(path), doc, text.splitlines(keepends=True)))

    def lines(self, file: str) -> list[str]:
        return next(lines for name, _, lines in self.files if name == file)

    def job(self, name: str):
        """``(file, node)`` of the definition GitLab uses (the including file wins)."""
        from ruamel.yaml.comments import CommentedMap

        for file, doc, _ in [self.files[0], *reversed(self.files[1:])]:
            if isinstance(doc, CommentedMap) and name in doc:
                return file, doc[name]
        return None, None

    def key_of(self, job: str, key: str, depth: int = 0):
        """``(file, mapping, key)`` where ``job``'s ``key`` is written, following ``extends``."""
        from ruamel.yaml.comments import CommentedMap

        if depth > 11:
            raise Refused(f"extends of {job!r} nested too deep")
        file, node = self.job(job)
        if not isinstance(node, CommentedMap):
            return None
        if key in node:
            return file, _defining(node, key), key
        parents = node.get("extends")
        parents = [parents] if isinstance(parents, str) else list(parents or [])
        for parent in reversed(parents):    # the last parent wins
            found = self.key_of(str(parent), key, depth + 1)
            if found is not None:
                return found
        return None


def _defining(node, key):
    """The mapping that writes ``key``: ``node`` itself, or the one a ``<<:`` merge key brought in."""
    from mason.ci.located import _merge_sources

    if key in node.lc.data:
        return node
    for source in _merge_sources(node):
        if key in source:
            return _defining(source, key)
    raise Refused(f"{key!r} comes from a merge key whose source could not be located")


def classify(text: str, where: str) -> str:
    kinds = set()
    for command in split_commands(text, where):
        argv = command.argv
        words = [w for w in argv if not _ASSIGNMENT.match(w)]
        if not words:
            kinds.add("state")
            continue
        base = words[0].rsplit("/", 1)[-1]
        if base in _LOG and not command.redirects and not command.piped:
            kinds.add("log")
        elif base in _STATE or (base in ("echo", "printf") and command.stdout_redirected()):
            kinds.add("state")
        else:
            kinds.add("other")
    if "other" in kinds:
        return "other"
    return "state" if "state" in kinds else "log"


def _builds(value, file: str, line: int, variables: dict) -> list[Invocation]:
    if isinstance(value, str):
        return find_invocations([LocStr(str(value), file, line)], "script", variables)
    if isinstance(value, list):
        return [inv for item in value for inv in _builds(item, file, line, variables)]
    return []


def pieces_of_sequence(sources: Sources, file: str, seq, first_line: int, variables: dict,
                       depth: int = 0, copied: bool = False) -> list[Piece]:
    """The pieces of a block sequence written in ``file`` from line ``first_line`` on."""
    from ruamel.yaml.comments import CommentedSeq

    from mason.yamlio import reference_path

    if depth > MAX_DEPTH:
        raise Refused("!reference or aliases nested deeper than 10 levels")
    if not isinstance(seq, CommentedSeq) or seq.fa.flow_style():
        raise Refused(f"{file}:{first_line + 1}: the script is not a block list (- entries), so its entries "
                      f"cannot be cut apart")
    lines = sources.lines(file)
    items = sequence_items(lines, first_line, len(seq))
    if items is None:
        raise Refused(f"{file}:{first_line + 1}: the script list's layout is not understood (entries could not be "
                      f"told apart in the text)")
    out: list[Piece] = []
    for node, item in zip(seq, items):
        text = lines[item.start:item.end]
        if copied:
            text = [drop_anchor(line) if n == item.dash - item.start else line for n, line in enumerate(text)]
        where = f"{file}:{item.dash + 1}"
        alias = lines[item.dash][item.col + 1:].lstrip().startswith("*")
        ref = reference_path(node)
        if ref is not None:
            out.extend(_reference(sources, ref, text, item.col, where, variables, depth))
        elif isinstance(node, list):
            if not _builds(node, file, item.dash + 1, variables):
                out.append(Piece(text, item.col, _classify_list(node, where), where=where))
            elif alias:
                first = node.lc.line   # type: ignore[attr-defined]  # a ruamel CommentedSeq
                out.extend(pieces_of_sequence(sources, file, node, first, variables, depth + 1, copied=True))
            else:
                raise Refused(f"{where}: a nested list holding builds; write its entries into the script")
        elif isinstance(node, str):
            out.extend(_entry(text, item, node, file, where, variables))
        else:
            raise Refused(f"{where}: a script entry that is not a string")
    return out


def _classify_list(node, where: str) -> str:
    kinds = {classify(str(item), where) if isinstance(item, str) else "other" for item in node}
    return "other" if "other" in kinds else ("state" if "state" in kinds else "log")


def _reference(sources: Sources, ref: tuple, text: list[str], col: int, where: str, variables: dict,
               depth: int) -> list[Piece]:
    found = sources.key_of(str(ref[0]), str(ref[1])) if len(ref) >= 2 else None
    if found is None:
        raise Refused(f"{where}: !reference {list(ref)} could not be located in the pipeline's files")
    file, mapping, key = found
    node = mapping[key]
    for sub in ref[2:]:
        if not isinstance(node, dict) or sub not in node:
            raise Refused(f"{where}: !reference {list(ref)} could not be located in the pipeline's files")
        mapping, key, node = node, sub, node[sub]
    if not _builds(node, file, 0, variables):
        kind = _classify_list(node, where) if isinstance(node, list) else classify(str(node), where)
        return [Piece(text, col, kind, where=where)]
    if not isinstance(node, list):
        raise Refused(f"{where}: !reference {list(ref)} names a single string that runs a build; "
                      f"a reference to a list can be expanded, a string cannot be cut")
    first = mapping.lc.value(key)[0]
    return pieces_of_sequence(sources, file, node, first, variables, depth + 1, copied=True)


def _entry(text: list[str], item, value: str, file: str, where: str, variables: dict) -> list[Piece]:
    from ruamel.yaml.scalarstring import LiteralScalarString

    builds = find_invocations([LocStr(str(value), file, item.dash + 1)], "script", variables)
    if not builds:
        return [Piece(text, item.col, classify(str(value), where), where=where)]
    looped = [inv for inv in builds if inv.in_loop]
    if looped:
        if len(looped) != len(builds):
            raise Refused(f"{where}: one entry runs builds both inside and outside a shell loop; "
                          f"put the loop in an entry of its own")
        return _unroll(text, item, builds[0], where)
    if len(builds) == 1:
        return [Piece(text, item.col, "build", builds[0], where=where)]
    if not isinstance(value, LiteralScalarString):
        raise Refused(f"{where}: one command line runs {len(builds)} builds (joined by && or ;): the fix cuts "
                      f"between lines, never inside a shell command line; put each build on a line of its own "
                      f"(a | block or separate entries)")
    return _split_block(text, item, str(value), file, where, variables)


def _unroll(text: list[str], item, invocation: Invocation, where: str) -> list[Piece]:
    source = "".join(text)
    loops = list(_FOR.finditer(source))
    if len(loops) != 1:
        what = "several loops" if loops else "a while/until loop"
        raise Refused(f"{where}: builds inside {what}: the number of images is known only when the job runs")
    loop = loops[0]
    words = loop.group(2).split()
    if not words or not all(_LITERAL_WORD.match(w) for w in words):
        raise Refused(f"{where}: a loop over `{loop.group(2).strip()}`: the list is known only when the job runs, "
                      f"so there is no fixed set of jobs to write")
    out = []
    for word in words:
        new = source[:loop.start(2)] + word + source[loop.end(2):]
        out.append(Piece(new.splitlines(keepends=True), item.col, "build", invocation, name_hint=word, where=where))
    return out


def _split_block(text: list[str], item, value: str, file: str, where: str, variables: dict) -> list[Piece]:
    """Cut a ``|`` block between its commands; the header and leading comments go with each part."""
    dash = item.dash - item.start
    leading, header, body = text[:dash], text[dash], text[dash + 1:]
    for line in body:
        first = line.split("#", 1)[0].split()
        if first and first[0] in _CONTROL:
            raise Refused(f"{where}: a | block with builds and shell control structures ({first[0]} …); "
                          f"cutting it apart would break the shell syntax")
    commands = split_commands(value, where)
    starts = sorted({c.line_offset for c in commands})
    regions: list[list[str]] = []
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(body)
        regions.append(body[(0 if n == 0 else start):stop])
    for n in range(len(regions) - 1):   # trailing comments describe the next command
        while regions[n] and (not regions[n][-1].strip() or regions[n][-1].strip().startswith("#")):
            regions[n + 1].insert(0, regions[n].pop())
    out = []
    for region in regions:
        body_text = "".join(region)
        found = find_invocations([LocStr(body_text, file, item.dash + 2)], "script", variables)
        if len(found) > 1:
            raise Refused(f"{where}: one line of a | block runs {len(found)} builds; put each on a line of its own")
        kind = "build" if found else classify(body_text, where)
        out.append(Piece([*leading, header, *region], item.col, kind, found[0] if found else None, where=where,
                         block=where, head=len(leading) + 1))
    return out
