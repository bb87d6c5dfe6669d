"""BuildKit's shell-word lexer: quote removal and ``$VAR`` expansion for Dockerfile words.

This follows BuildKit's ``frontend/dockerfile/shell`` lexer rule for rule (not a POSIX shell):

* single quotes keep everything literal; the escape character cannot escape inside them;
* inside double quotes the escape character only escapes ``"``, ``$`` and itself, and is
  kept literally before any other character;
* outside quotes the escape character makes the next character literal (and is dropped);
  a trailing escape character is dropped;
* ``$NAME``, ``${NAME}`` and the modifiers ``:-  -  :+  +  :?  ?  #  ##  %  %%  /  //``;
  an unset variable expands to the empty string;
* word splitting (``expand_words``): unquoted whitespace and whitespace produced by an
  unquoted expansion split words; quoted text and escaped characters never split.

The lexer also has the "raw" modes BuildKit's parser uses to find heredoc markers
(``raw_quotes`` keeps quote characters, ``raw_escapes`` keeps escape characters,
``skip_unset`` leaves unknown variables untouched).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mason.errors import DockerfileError

_SPECIAL_PARAMS = frozenset("@*#?-$!0")

# What one word may grow by through variable expansion. BuildKit has no bound; a few ENV lines
# that each repeat the previous variable ten times (a 591-byte Dockerfile) grow a word tenfold
# per line until the builder spins for minutes or runs out of memory. No real Dockerfile comes
# near a mebibyte of expanded text beyond its own length.
MAX_EXPANSION = 1 << 20


GO_SPACES = frozenset(" \t\n\v\f\r\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                      + "".join(chr(c) for c in range(0x2000, 0x200B)))


_GO_SPACE_RUN = re.compile("[" + re.escape("".join(sorted(GO_SPACES))) + "]+")


def is_go_space(ch: str) -> bool:
    """Go's ``unicode.IsSpace`` (Python's ``isspace`` also accepts the separators 0x1c-0x1f)."""
    return ch in GO_SPACES


class _LexError(Exception):
    """Internal: carries a message up to the public entry point, which adds context."""


class _Lexer:
    """One pass over one word. Not reused: each call builds a fresh lexer (no shared state)."""

    __slots__ = ("src", "pos", "env", "escape", "raw_quotes", "raw_escapes", "skip_unset", "skip_quotes",
                 "matched", "budget")

    def __init__(self, src: str, env: Mapping[str, str], escape: str, *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_unset: bool = False, skip_quotes: bool = False):
        self.skip_quotes = skip_quotes
        self.src = src
        self.pos = 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.matched: set[str] = set()
        self.budget = len(src) + MAX_EXPANSION

    # -- scanner primitives ---------------------------------------------------------------
    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def next(self) -> str:
        if self.pos < len(self.src):
            ch = self.src[self.pos]
            self.pos += 1
            return ch
        return ""

    def spend(self, size: int) -> None:
        """Count text produced by an expansion against the word's budget."""
        self.budget -= size
        if self.budget < 0:
            raise _LexError(f"the expanded word is larger than {MAX_EXPANSION} bytes beyond its own "
                            "length (a variable-expansion bomb?)")

    def getenv(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        return "", False

    # -- the grammar ----------------------------------------------------------------------
    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Read until ``stop`` (consumed) or end of input when ``stop`` is ''."""
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        esc = self.escape
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if stop and ch == stop:
                self.pos += 1
                return "".join(result), words.finish()
            if ch == "$":
                tmp = self.process_dollar()
                self.spend(len(tmp))
                result.append(tmp)
                words.add_string(tmp)
            elif self.skip_quotes and ch in ("'", '"'):
                self.pos += 1
                words.add_char(ch)
                result.append(ch)
            elif ch == "'":
                tmp = self.process_single_quote()
                result.append(tmp)
                words.add_raw(tmp)
            elif ch == '"':
                tmp = self.process_double_quote()
                result.append(tmp)
                words.add_raw(tmp)
            else:
                self.pos += 1
                if ch == esc:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == "":
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def process_single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == "":
                raise _LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            nxt = self.peek()
            if nxt == "":
                raise _LexError("unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                self.next()
                if self.raw_quotes:
                    out.append('"')
                return "".join(out)
            if nxt == "$":
                out.append(self.process_dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                after = self.peek()
                if after == "":
                    continue  # a lone escape at the end of the word is dropped
                if after in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def process_name(self) -> str:
        name: list[str] = []
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if not name and ch.isdecimal():
                while self.pos < len(self.src) and self.src[self.pos].isdecimal():
                    name.append(self.src[self.pos])
                    self.pos += 1
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                self.pos += 1
                return ch
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(ch)
            self.pos += 1
        return "".join(name)

    def process_dollar(self) -> str:
        self.next()  # the '$'
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.getenv(name)
            if not found and self.skip_unset:
                return "$" + name
            return value
        self.next()  # the '{'
        first = self.peek()
        if first == "":
            raise _LexError("syntax error: missing '}'")
        if first in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        chs = ch
        null_is_unset = False
        if ch == "}":
            value, found = self.getenv(name)
            if not found and self.skip_unset:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch
            return self._modifier(name, ch, chs, null_is_unset)
        if ch and ch in "+-?#%":
            return self._modifier(name, ch, chs, null_is_unset)
        if ch == "/":
            return self._replace(name)
        if ch == "":
            raise _LexError("syntax error: missing '}'")
        raise _LexError(f"unsupported modifier ({chs}) in substitution")

    def _modifier(self, name: str, ch: str, chs: str, null_is_unset: bool) -> str:
        raw = ch in ("#", "%")
        try:
            word, _ = self.process_stop_on("}", raw)
        except _LexError:
            if self.peek() == "":
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, is_set = self.getenv(name)
        if self.skip_unset and not is_set:
            return "${" + name + chs + word + "}"
        if ch == "-":
            return word if (not is_set or (null_is_unset and value == "")) else value
        if ch == "+":
            return "" if (not is_set or (null_is_unset and value == "")) else word
        if ch == "?":
            if not is_set:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = False
            if word[:1] == ch:
                greedy = True
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise _LexError(f"unsupported modifier ({chs}) in substitution")

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _ = self.process_stop_on("/", True)
        except _LexError:
            if self.peek() == "":
                raise _LexError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.process_stop_on("}", True)
        except _LexError:
            if self.peek() == "":
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, is_set = self.getenv(name)
        if self.skip_unset and not is_set:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        m = regex.search(value)
        if m is None:
            return value
        return value[:m.start()] + replacement + value[m.end():]


class _Words:
    """Accumulates split words the way BuildKit's ``wordsStruct`` does."""

    __slots__ = ("parts", "size", "words", "in_word")

    def __init__(self) -> None:
        self.parts: list[str] = []     # the current word, in pieces (no quadratic +=)
        self.size = 0
        self.words: list[str] = []
        self.in_word = False

    def _space(self) -> None:
        if self.in_word and self.size:
            self.words.append("".join(self.parts))
            self.parts, self.size = [], 0
            self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_go_space(ch):
            self._space()
        else:
            self.add_raw(ch)

    def add_string(self, s: str) -> None:
        for i, piece in enumerate(_GO_SPACE_RUN.split(s)):
            if i:
                self._space()
            if piece:
                self.add_raw(piece)

    def add_raw(self, s: str) -> None:
        self.parts.append(s)
        self.size += len(s)
        self.in_word = True

    def finish(self) -> list[str]:
        if self.size:
            self.words.append("".join(self.parts))
            self.parts, self.size = [], 0
            self.in_word = False
        return self.words


_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern:
    """Shell wildcard (``*``, ``?``, backslash escapes; no bracket expressions) to a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    n = len(pattern)
    while i < n:
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/"):
                continue  # the escape protected the ${} syntax, it is not part of the pattern
            tok = nxt
            i += 1
            if tok not in ("*", "?", "\\"):
                raise _LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{tok}'")
            out.append("\\" + tok)
            continue
        out.append("\\" + tok if tok in _REGEX_SPECIAL else tok)
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each escape before the character it escapes."""
    chars = list(pattern)
    out = [""] * len(chars)
    last = len(chars) - 1
    i = 0
    while i <= last:
        tok = chars[i]
        at = last - i
        if tok == "\\" and i != last:
            out[at - 1] = tok
            out[at] = chars[i + 1]
            i += 2
        else:
            out[at] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds leftmost matches only, so search the reversed value with the reversed pattern.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _check_escape(escape: str) -> None:
    if escape not in ("\\", "`"):
        raise DockerfileError(f"invalid escape character {escape!r}: must be a backslash or a backtick")


def _run(word: str, env: Mapping[str, str], escape: str, **modes) -> tuple[str, list[str], set[str]]:
    _check_escape(escape)
    lexer = _Lexer(word, env, escape, **modes)
    try:
        text, words = lexer.process_stop_on("", lexer.raw_escapes)
    except _LexError as exc:
        shown = word if len(word) <= 120 else word[:117] + "..."
        raise DockerfileError(f"failed to process {shown!r}: {exc}") from None
    return text, words, lexer.matched


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand one word: quotes removed, escapes applied, variables substituted, no splitting."""
    return _run(word, env, escape)[0]


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand and split into words the way BuildKit does for EXPOSE and heredoc detection."""
    return _run(word, env, escape)[1]


def expand_word_tracked(word: str, env: Mapping[str, str], escape: str = "\\") -> tuple[str, frozenset[str]]:
    """Like ``expand_word`` and also return the variable names that were found in ``env``."""
    text, _, matched = _run(word, env, escape)
    return text, frozenset(matched)


def lex_words(word: str, escape: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
              skip_unset: bool = True) -> list[str]:
    """Split with BuildKit's raw modes and an empty environment (used to find heredoc markers)."""
    return _run(word, {}, escape, raw_quotes=raw_quotes, raw_escapes=raw_escapes, skip_unset=skip_unset)[1]


def expand_heredoc(content: str, env: Mapping[str, str]) -> str:
    """Expand a heredoc body the way BuildKit does for COPY/ADD: variables and backslash
    escapes are processed, quote characters are ordinary text."""
    return _run(content, env, "\\", skip_quotes=True)[0]
