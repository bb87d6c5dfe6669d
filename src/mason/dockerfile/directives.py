"""Parser directives (``# syntax=``, ``# escape=``, ``# check=``) at the top of a Dockerfile.

BuildKit's rules: directives are only recognised on the lines before the first instruction,
comment, blank line or unknown directive (any of those ends the directive section, and a
directive-looking comment after that is an ordinary comment); names are case-insensitive;
a directive may appear once; ``escape`` must be a backslash or a backtick.
"""

from __future__ import annotations

import re

from mason.errors import DockerfileError

# Go's RE2 ``\s`` is ASCII whitespace only, so spell it out rather than use Python's Unicode ``\s``.
_DIRECTIVE = re.compile(r"^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$")
KNOWN = ("syntax", "escape", "check")


class DirectiveScanner:
    """Fed every physical line in order; remembers directives until the section ends.

    Only ever used inside one ``parse`` call, so its mutable state never outlives a parse.
    """

    def __init__(self, file: str):
        self.file = file
        self.done = False
        self.values: dict[str, str] = {}
        self.escape = "\\"

    def feed(self, line: str, lineno: int) -> bool:
        """Return True when ``line`` was a directive (and so is not a comment for the AST)."""
        if self.done:
            return False
        m = _DIRECTIVE.match(line)
        if m is None:
            self.done = True
            return False
        name = m.group(1).lower()
        if name not in KNOWN:
            self.done = True
            return False
        if name in self.values:
            raise DockerfileError(f"only one {name} parser directive can be used", file=self.file, line=lineno,
                                  hint="remove the repeated directive")
        value = m.group(2)
        if name == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(f"invalid escape token '{value}' does not match ` or \\", file=self.file,
                                      line=lineno, hint="use '# escape=\\' or '# escape=`'")
            self.escape = value
        self.values[name] = value
        return True


def continuation_regex(escape: str) -> re.Pattern:
    """A line ending in the escape character (plus blanks) continues on the next line.

    Like BuildKit, an escape character preceded by another escape character still counts
    only when it is alone on the line; ``foo \\\\`` is *not* a continuation.
    """
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")
