"""Plain Python values that remember where in which file they were written.

The round-trip nodes of ruamel.yaml know their line, but only inside their own document
and only until they are merged. GitLab's semantics (``include``, ``extends``, ``!reference``)
move values between jobs and files, so each value is frozen once into one of these types and
carries its origin through every merge: a lint finding can then point at the line that
really holds a command, even when it arrived through three levels of ``extends``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mason.errors import UsageError


class LocStr(str):
    """A string scalar with its file and the 1-based line where its text starts.

    ``exact_lines`` is true when a newline in the value is a newline in the file (plain
    one-line values, ``|`` literal blocks), so ``line + value[:i].count("\\n")`` locates
    offset ``i``; folded (``>``) and multi-line plain scalars fold newlines into spaces.
    """

    file: str
    line: int
    exact_lines: bool

    def __new__(cls, value: str, file: str, line: int, exact_lines: bool = True):
        obj = super().__new__(cls, value)
        obj.file = file
        obj.line = line
        obj.exact_lines = exact_lines
        return obj

    def line_at(self, newline_offset: int) -> int:
        return self.line + newline_offset if self.exact_lines else self.line


class LocDict(dict):
    """A mapping with the location of the mapping and of each key."""

    def __init__(self, *args, file: str = "?", line: int = 0, key_lines: dict | None = None, **kw):
        super().__init__(*args, **kw)
        self.file = file
        self.line = line
        self.key_lines = dict(key_lines or {})

    def key_line(self, key) -> int:
        return self.key_lines.get(key, self.line)


class LocList(list):
    def __init__(self, *args, file: str = "?", line: int = 0):
        super().__init__(*args)
        self.file = file
        self.line = line


@dataclass(frozen=True)
class Ref:
    """An unresolved ``!reference [job, key, ...]``."""

    path: tuple
    file: str
    line: int


def freeze(node, file: str, line: int):
    """Convert a ruamel round-trip node into Loc* values (merge keys already applied)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

    from mason.yamlio import reference_path, tag_of

    if isinstance(node, CommentedMap):
        _refuse_tag(node, file, line)
        out = LocDict(file=file, line=line)
        for key in node:  # iteration includes keys brought in by ``<<:`` merge keys
            kline = _key_line(node, key)
            out.key_lines[key] = kline
            out[key] = freeze(node[key], file, _value_line(node, key, kline))
        return out
    if isinstance(node, CommentedSeq):
        ref = reference_path(node)
        if ref is not None:
            if not ref or not all(isinstance(p, str) for p in ref):
                raise UsageError(f"{file}:{line}: !reference needs a list of names, got {list(ref)!r}")
            return Ref(tuple(str(p) for p in ref), file, line)
        _refuse_tag(node, file, line)
        out = LocList(file=file, line=line)
        for i, item in enumerate(node):
            iline = node.lc.item(i)[0] + 1 if i in node.lc.data else line
            out.append(freeze(item, file, iline + _block_offset(item)))
        return out
    if isinstance(node, TaggedScalar):
        raise UsageError(f"{file}:{line}: unsupported YAML tag {tag_of(node)}: GitLab CI only knows !reference")
    if isinstance(node, str):
        return LocStr(str(node), file, line, exact_lines=_exact_lines(node))
    return node  # int, float, bool, None


def _refuse_tag(node, file: str, line: int) -> None:
    from mason.yamlio import tag_of

    tag = tag_of(node)
    if tag is not None and not tag.startswith("tag:yaml.org"):
        raise UsageError(f"{file}:{line}: unsupported YAML tag {tag}: GitLab CI only knows !reference")


def _key_line(node, key) -> int:
    if key in node.lc.data:
        return node.lc.key(key)[0] + 1
    for source in _merge_sources(node):
        if key in source:
            return _key_line(source, key)
    return node.lc.line + 1 if node.lc.line is not None else 0


def _merge_sources(node) -> list:
    """The mappings a ``<<:`` merge key brought in (ruamel's representation varies by version)."""
    merged = getattr(node, "merge", None) or []
    out = []
    for item in merged:
        source = item[1] if isinstance(item, tuple) else item
        if hasattr(source, "lc"):
            out.append(source)
    return out


def _value_line(node, key, key_line: int) -> int:
    value = node[key]
    if key in node.lc.data:
        return node.lc.value(key)[0] + 1 + _block_offset(value)
    return key_line + _block_offset(value)


def _block_offset(value) -> int:
    """Block scalars (``|``, ``>``) start their text on the line after the indicator."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return 1 if isinstance(value, (FoldedScalarString, LiteralScalarString)) else 0


def _exact_lines(value) -> bool:
    from ruamel.yaml.scalarstring import FoldedScalarString

    return not isinstance(value, FoldedScalarString) and ("\n" not in value or _is_literal(value))


def _is_literal(value) -> bool:
    from ruamel.yaml.scalarstring import LiteralScalarString

    return isinstance(value, LiteralScalarString)


def deep_merge(base, over):
    """GitLab's merge for ``extends`` and ``include``: hashes merge recursively, everything
    else (lists included) is replaced by the overriding value."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = LocDict(base, file=getattr(over, "file", "?"), line=getattr(over, "line", 0),
                      key_lines={**getattr(base, "key_lines", {}), **getattr(over, "key_lines", {})})
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else value
        return out
    return over
