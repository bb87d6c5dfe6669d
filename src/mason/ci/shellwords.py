"""A small POSIX-shell tokenizer for GitLab ``script`` entries.

It is not a shell: it finds simple commands, their words (quotes removed, expansions kept
as written), their redirections and how they are connected (pipes, loops, background), which
is what the linter needs to find executor calls and credentials printed to the job log.
Command substitutions ``$(...)`` and backticks stay inside the word that holds them: their
output is captured, never printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mason.errors import UsageError

# Reserved words that may prefix a command (``if cmd``, ``do cmd``, ``! cmd``).
_PREFIX_WORDS = frozenset({"if", "then", "else", "elif", "do", "!", "{", "while", "until"})
_LOOP_OPEN = frozenset({"for", "while", "until", "select"})
_OPERATORS = ("&&", "||", ";;", ">>", ">&", "<&", ">|", "<<-", "<<", "&>", "<>", ";", "&", "|", "<", ">", "(", ")")


@dataclass(frozen=True)
class Word:
    raw: str     # as written, quotes included
    value: str   # quotes and escapes removed; $VAR and $(...) kept literally
    quoted: bool


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target), fd prefix dropped
    line_offset: int = 0     # newlines before the command within the scanned text
    piped: bool = False      # stdout feeds a pipe
    background: bool = False
    in_loop: bool = False
    loop_runs: int | None = None   # in a loop: how often it runs, when every enclosing loop is a
                                   # ``for`` over a literal list (None: known only at run time)

    @property
    def argv(self) -> list[str]:
        return [w.value for w in self.words]

    def stdout_redirected(self) -> bool:
        return any(op in (">", ">>", ">|", "&>") for op, _ in self.redirects)


def split_commands(text: str, where: str = "script") -> list[Command]:
    """Split shell text into simple commands. ``where`` names the source in errors."""
    return _Scanner(text, where).run()


class _Scanner:
    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        self.i = 0
        self.line = 0
        self.commands: list[Command] = []
        self.current = Command()
        self.loop_depth = 0
        self.loop_counts: list[int | None] = []
        self.pending_redirect: str | None = None
        self.heredocs: list[tuple[str, bool]] = []

    def run(self) -> list[Command]:
        text = self.text
        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\" and text[self.i + 1:self.i + 2] == "\n":
                self.i += 2
                self.line += 1
            elif ch == "\n":
                self._end_command()
                self.i += 1
                self.line += 1
                self._skip_heredocs()
            elif ch in " \t\r":
                self.i += 1
            elif ch == "#":
                while self.i < len(text) and text[self.i] != "\n":
                    self.i += 1
            elif self._operator():
                pass
            else:
                self._word()
        self._end_command()
        if self.pending_redirect is not None:
            raise UsageError(f"{self.where}: redirection {self.pending_redirect!r} without a target")
        return self.commands

    def _operator(self) -> bool:
        text = self.text
        for op in _OPERATORS:
            if text.startswith(op, self.i):
                self.i += len(op)
                if op in ("<", ">", ">>", ">|", "&>", "<>", ">&", "<&", "<<", "<<-"):
                    self.pending_redirect = op
                elif op == "|":
                    self.current.piped = True
                    self._end_command()
                elif op == "&":
                    self.current.background = True
                    self._end_command()
                else:  # ; && || ;; ( )
                    self._end_command()
                return True
        return False

    def _word(self) -> None:
        text = self.text
        start = self.i
        value: list[str] = []
        quoted = False
        while self.i < len(text):
            ch = text[self.i]
            if ch in " \t\r\n;&|<>()":
                if ch in "<>" and not quoted and value and "".join(value).isdigit():
                    value = []  # an fd number such as the 2 in 2>&1
                    start = self.i
                break
            if ch == "\\":
                nxt = text[self.i + 1:self.i + 2]
                if nxt == "\n":
                    self.i += 2
                    self.line += 1
                    continue
                value.append(nxt)
                quoted = True
                self.i += 2
            elif ch == "'":
                end = text.find("'", self.i + 1)
                if end < 0:
                    raise UsageError(f"{self.where}: unterminated single quote")
                value.append(text[self.i + 1:end])
                self._count_lines(self.i, end)
                quoted = True
                self.i = end + 1
            elif ch == '"':
                value.append(self._double_quoted())
                quoted = True
            elif ch == "$" and text[self.i + 1:self.i + 2] in ("(", "{"):
                end = _matching(text, self.i + 1, self.where)
                value.append(text[self.i:end + 1])
                self._count_lines(self.i, end)
                self.i = end + 1
            elif ch == "`":
                end = _backtick_end(text, self.i, self.where)
                value.append(text[self.i:end + 1])
                self.i = end + 1
            else:
                value.append(ch)
                self.i += 1
        if self.i == start and not value:
            return
        word = Word(raw=text[start:self.i], value="".join(value), quoted=quoted)
        self._add_word(word)

    def _double_quoted(self) -> str:
        text = self.text
        self.i += 1
        out: list[str] = []
        while self.i < len(text):
            ch = text[self.i]
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch == "\\" and text[self.i + 1:self.i + 2] in ('"', "\\", "$", "`", "\n"):
                nxt = text[self.i + 1]
                if nxt == "\n":
                    self.line += 1
                else:
                    out.append(nxt)
                self.i += 2
            elif ch == "$" and text[self.i + 1:self.i + 2] in ("(", "{"):
                end = _matching(text, self.i + 1, self.where)
                out.append(text[self.i:end + 1])
                self._count_lines(self.i, end)
                self.i = end + 1
            elif ch == "`":
                end = _backtick_end(text, self.i, self.where)
                out.append(text[self.i:end + 1])
                self.i = end + 1
            else:
                if ch == "\n":
                    self.line += 1
                out.append(ch)
                self.i += 1
        raise UsageError(f"{self.where}: unterminated double quote")

    def _add_word(self, word: Word) -> None:
        if self.pending_redirect is not None:
            op = self.pending_redirect
            self.pending_redirect = None
            if op in ("<<", "<<-"):
                self.heredocs.append((word.value, op == "<<-"))
            self.current.redirects.append((op, word.value))
            return
        cur = self.current
        if not cur.words:
            if word.raw in _LOOP_OPEN:
                self.loop_depth += 1
                if word.raw in ("while", "until"):
                    self.loop_counts.append(None)
                    cur.line_offset = self.line
                    return  # the condition that follows runs on every iteration
                cur.words.append(word)  # ``for x in ...`` header: not a command, dropped at its end
                cur.line_offset = self.line
                return
            if word.raw == "done":
                self.loop_depth = max(0, self.loop_depth - 1)
                if self.loop_counts:
                    self.loop_counts.pop()
                return
            if word.raw in _PREFIX_WORDS or word.raw in ("fi", "esac", "}"):
                return
            cur.line_offset = self.line
            cur.in_loop = self.loop_depth > 0
            known = [c for c in self.loop_counts if c is not None]
            if cur.in_loop and self.loop_counts and len(known) == len(self.loop_counts):
                runs = 1
                for count in known:
                    runs *= count
                cur.loop_runs = runs
        cur.words.append(word)

    def _end_command(self) -> None:
        cur = self.current
        if cur.words and cur.words[0].raw in ("for", "select"):
            self.loop_counts.append(_literal_count(cur.words) if cur.words[0].raw == "for" else None)
        if cur.words and cur.words[0].raw not in _LOOP_OPEN:
            self.commands.append(cur)
        self.current = Command()

    def _skip_heredocs(self) -> None:
        """Heredoc bodies are data, not commands: skip them up to their delimiter lines."""
        text = self.text
        while self.heredocs:
            delimiter, strip_tabs = self.heredocs.pop(0)
            while self.i < len(text):
                end = text.find("\n", self.i)
                end = len(text) if end < 0 else end
                body_line = text[self.i:end]
                self.i = min(end + 1, len(text))
                self.line += 1
                if (body_line.lstrip("\t") if strip_tabs else body_line) == delimiter:
                    break
            else:
                raise UsageError(f"{self.where}: heredoc delimiter {delimiter!r} never found")

    def _count_lines(self, start: int, end: int) -> None:
        self.line += self.text.count("\n", start, end)


def _literal_count(header: list[Word]) -> int | None:
    """Items of ``for NAME in WORDS``: their number when every word is literal, else None."""
    raws = [w.raw for w in header]
    if len(raws) < 3 or raws[2] != "in":
        return None   # ``for NAME`` iterates over "$@"
    items = raws[3:]
    if any(ch in raw for raw in items for ch in "$`*?[{"):
        return None
    return len(items)


def _matching(text: str, open_index: int, where: str) -> int:
    """Index of the bracket closing the one at ``open_index``, skipping quoted text."""
    pairs = {"(": ")", "{": "}"}
    stack = [pairs[text[open_index]]]
    i = open_index + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'" and stack[-1] == ")":
            end = text.find("'", i + 1)
            if end < 0:
                break
            i = end + 1
            continue
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text.startswith("$(", i) or text.startswith("${", i):
                    i = _matching(text, i + 1, where)
                i += 1
            i += 1
            continue
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch == stack[-1]:
            stack.pop()
            if not stack:
                return i
        i += 1
    raise UsageError(f"{where}: unterminated {text[open_index - 1:open_index + 1]!r}")


def _backtick_end(text: str, start: int, where: str) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "`":
            return i
        i += 1
    raise UsageError(f"{where}: unterminated backtick")
