"""BuildKit's per-instruction line parsers: how the text after the command word is split.

These run at parse time, before any validation, and keep quotes and escapes raw (expansion
happens later, per instruction). Each mirrors one function of BuildKit's ``line_parsers.go``
and ``split_command.go``; the comments say where BuildKit's behaviour is surprising.
"""

from __future__ import annotations

import json
import re

from mason.dockerfile.expand import GO_SPACES, is_go_space

_SPACE_CHARS = "".join(GO_SPACES)
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class LineError(Exception):
    """Internal: a line-parser error; the parser adds the location."""


def split_command(line: str) -> tuple[str, list[str], str]:
    """``CMD --flags args`` -> (command word, raw flags, rest with flags removed)."""
    parts = re.split(r"\s+", line.strip(), maxsplit=1)
    cmd = parts[0]
    if len(parts) < 2:
        return cmd, [], ""
    rest, flags = extract_flags(parts[1])
    return cmd, flags, rest.strip()


def extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--name[=value]`` words; quotes inside a flag are removed, ``--`` ends flags."""
    if not line.lstrip(_SPACE_CHARS).startswith("--"):
        return line, []  # fast path: most instructions have no flags
    words: list[str] = []
    word = ""
    phase = "spaces"
    quote = ""
    blank_ok = False
    n = len(line)
    pos = 0
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if is_go_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = "word"
        if pos == n:  # end of input inside a word or quote
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if is_go_space(ch):
                phase = "spaces"
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                word = ""
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word += ch
            pos += 1
            continue
        # inside quotes
        if ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word += ch
        pos += 1
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escape characters in the words."""
    if "'" not in rest and '"' not in rest and escape not in rest and not any(c in rest for c in "\x1c\x1d\x1e\x1f"):
        return rest.split()  # fast path: without quotes or escapes this is plain whitespace splitting
    words: list[str] = []
    word: list[str] = []
    phase = "spaces"
    quote = ""
    blank_ok = False
    n = len(rest)
    pos = 0
    while True:
        at_end = pos >= n
        ch = "" if at_end else rest[pos]
        if phase == "spaces":
            if at_end:
                break
            if is_go_space(ch):
                pos += 1
                continue
            phase = "word"
        if at_end:
            if blank_ok or word:
                words.append("".join(word))
            break
        if phase == "word":
            if is_go_space(ch):
                phase = "spaces"
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # an escape at the very end is dropped
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        # in quote
        if ch == quote:
            phase = "word"
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    return words


def _no_constants(name: str):
    raise ValueError(name)  # Go's JSON has no NaN/Infinity: not JSON, so shell form


def parse_json(rest: str) -> list[str] | None:
    """The JSON-array form, or None when ``rest`` is not one (then it is shell form).

    As Go's ``json.Unmarshal`` (BuildKit since "fix invalid usage of json.NewDecoder"; v0.11.6
    read only the first value and dropped the rest, so ``RUN ["echo"]junk`` ran ``echo``): text
    after the closing bracket makes it shell form. A valid array with a non-string element is
    an error.
    """
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value, end = json.JSONDecoder(parse_constant=_no_constants).raw_decode(rest)
    except (ValueError, RecursionError):
        return None
    if rest[end:].strip(" \t\r\n"):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise LineError(NOT_STRING_ARRAY)
    return value


def maybe_json(rest: str) -> tuple[list[str], bool]:
    """RUN/CMD/ENTRYPOINT/SHELL: JSON array, else the whole text as one argument."""
    if rest == "":
        return [], False
    arr = parse_json(rest)
    if arr is not None:
        return arr, True
    return [rest], False


def maybe_json_to_list(rest: str) -> tuple[list[str], bool]:
    """ADD/COPY/VOLUME: JSON array, else whitespace-separated fields."""
    arr = parse_json(rest)
    if arr is not None:
        return arr, True
    return whitespace_fields(rest), False


def whitespace_fields(rest: str) -> list[str]:
    if rest == "":
        return []
    return _WHITESPACE.split(rest)


def name_values(rest: str, what: str, escape: str) -> list[tuple[str, str, str]]:
    """ENV/LABEL: ``k=v k2=v2`` (raw values) or the legacy ``KEY value`` form (sep "")."""
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineError(f"{what} must have two arguments")
        return [(parts[0], parts[1], "")]
    pairs = []
    for word in words:
        if "=" not in word:
            raise LineError(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        key, value = word.split("=", 1)
        pairs.append((key, value, "="))
    return pairs


def health_config(rest: str) -> tuple[list[str], bool]:
    """HEALTHCHECK: the type word, then the command parsed like CMD."""
    sep = 0
    while sep < len(rest) and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return [], False
    nxt = sep
    while nxt < len(rest) and is_go_space(rest[nxt]):
        nxt += 1
    cmd, is_json = maybe_json(rest[nxt:])
    return [rest[:sep], *cmd], is_json
