"""Line-level facts about block YAML that ``mason ci fix`` cuts and splices.

ruamel.yaml tells where a key or a scalar starts, but not where a list item ends, and for an
alias (``- *build``) it reports the anchored node's position, not the alias's. So items of a
block sequence are found here from the text itself: the dash lines at the sequence's
indentation. Each item's extent starts at the comment lines directly above its dash (a
comment describes what follows it) and ends before the trailing blank and comment lines
(they describe the next item, or the next key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ANCHOR_AFTER_DASH = re.compile(r"^(\s*-\s+)&[^\s]+\s*")


@dataclass(frozen=True)
class ItemText:
    start: int            # first line of the item, its leading comments included (0-based)
    dash: int             # the line holding its dash
    end: int              # one past its last line (trailing blanks and comments excluded)
    col: int              # the dash's column


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def is_filler(line: str) -> bool:
    """Blank or comment-only: belongs to whatever follows it."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _is_dash(line: str, col: int) -> bool:
    return indent_of(line) == col and (line[col:col + 2] == "- " or line[col:].rstrip("\n") == "-")


def sequence_items(lines: list[str], first: int, count: int) -> list[ItemText] | None:
    """The ``count`` items of the block sequence whose first dash is at or after line ``first``.

    None when the text does not have that shape (a flow sequence, a different item count)."""
    i = first
    while i < len(lines) and is_filler(lines[i]):
        i += 1
    if i < len(lines) and not lines[i].lstrip(" ").startswith("-"):
        i += 1   # the key (or anchor) line holding the sequence: its items follow
        while i < len(lines) and is_filler(lines[i]):
            i += 1
    if i >= len(lines) or not lines[i].lstrip(" ").startswith("-"):
        return None
    col = indent_of(lines[i])
    if not _is_dash(lines[i], col):
        return None
    dashes: list[int] = []
    end = i
    while end < len(lines):
        line = lines[end]
        if not is_filler(line):
            if _is_dash(line, col):
                dashes.append(end)
            elif indent_of(line) <= col:
                break
        end += 1
    if len(dashes) != count:
        return None
    items: list[ItemText] = []
    for n, dash in enumerate(dashes):
        stop = dashes[n + 1] if n + 1 < len(dashes) else end
        stop = trim_end(lines, dash, stop)
        start = dash
        floor = items[-1].end if items else first
        while start > floor and lines[start - 1].strip().startswith("#") and indent_of(lines[start - 1]) >= col:
            start -= 1
        items.append(ItemText(start=start, dash=dash, end=stop, col=col))
    return items


def trim_end(lines: list[str], start: int, end: int) -> int:
    """Back ``end`` up over trailing blank lines and comments (they belong to what follows)."""
    while end > start + 1 and is_filler(lines[end - 1]):
        end -= 1
    return end


def reindent(text_lines: list[str], from_col: int, to_col: int) -> list[str]:
    """Shift lines written at ``from_col`` to ``to_col`` (blank lines stay blank)."""
    out = []
    for line in text_lines:
        if not line.strip():
            out.append("\n")
        elif to_col >= from_col:
            out.append(" " * (to_col - from_col) + line)
        else:
            cut = min(from_col - to_col, indent_of(line))
            out.append(line[cut:])
    return [line if line.endswith("\n") else line + "\n" for line in out]


def drop_anchor(line: str) -> str:
    """``- &name value`` -> ``- value``: a copied item must not define its anchor twice."""
    return _ANCHOR_AFTER_DASH.sub(lambda m: m.group(1), line, count=1)


def rename_key(line: str, old: str, new: str) -> str | None:
    for written in (old, f'"{old}"', f"'{old}'"):
        if line.startswith(written):
            rest = line[len(written):]
            if rest.lstrip(" ").startswith(":"):
                return new + rest
    return None


def replace_word(line: str, old: str, new: str) -> tuple[str, int]:
    """Replace ``old`` where it stands as a whole YAML scalar (bare or quoted), not in a comment."""
    code, comment = split_comment(line)
    pattern = re.compile(r"(?<![\w.\-/])(['\"]?)" + re.escape(old) + r"\1(?![\w.\-/])")
    replaced, count = pattern.subn(new, code)
    return replaced + comment, count


def split_comment(line: str) -> tuple[str, str]:
    """``(code, comment)``: a YAML comment starts at a ``#`` after a space, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i], line[i:]
    return line, ""
