"""ruamel.yaml round-trip I/O (comments, order and line numbers kept) for CI files and bake files.

A new ``YAML`` object is made per call: ruamel's loader keeps per-document state, and
mason keeps no module-level mutable state.
"""

from __future__ import annotations

import io
from pathlib import Path

from mason.errors import UsageError


def make_yaml():
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, anchors, merge keys and unknown tags survive
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def load_text(text: str, filename: str):
    """Parse YAML text; errors name the file and the parser's line."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return make_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}" if mark is not None else filename
        raise UsageError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise UsageError(f"{filename}: invalid YAML: {exc}") from None


def load_path(path: Path):
    """Read and parse one YAML file; returns ``(document, text)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    return load_text(text, str(path)), text


def dump_text(data) -> str:
    out = io.StringIO()
    make_yaml().dump(data, out)
    return out.getvalue()


def reference_path(node) -> tuple | None:
    """The key path of a ``!reference [job, key, ...]`` node, or None if ``node`` is not one."""
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    if value == "!reference":
        return tuple(node)
    return None


def tag_of(node) -> str | None:
    tag = getattr(node, "tag", None)
    return getattr(tag, "value", None) if tag is not None else None
