"""``--chmod`` values: octal (``755``, ``0644``, ``4755``) and symbolic (``u+x,g-w``, ``a=rX``).

An octal value replaces the permission and special bits of every copied file and
directory. A symbolic value is applied to each entry's own source mode, clause by
clause, like chmod(1) without a umask (an empty "who" means all); ``X`` adds execute
only to directories and to files that already have an execute bit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mason.errors import BuildError

_OCTAL = re.compile(r"[0-7]{1,4}")
_CLAUSE = re.compile(r"([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)")
_OP = re.compile(r"([-+=])([ugo](?![rwxXst])|[rwxXst]*)")

_WHO_BITS = {"u": 0o4700, "g": 0o2070, "o": 0o1007}  # bits each "who" may touch (s/t included)


@dataclass(frozen=True)
class Chmod:
    """A parsed ``--chmod``; ``apply(mode, is_dir)`` gives the new permission bits."""

    text: str
    octal: int | None
    clauses: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def apply(self, mode: int, is_dir: bool) -> int:
        """Return the new ``mode & 0o7777`` for an entry whose current mode is ``mode``."""
        if self.octal is not None:
            return self.octal
        cur = mode & 0o7777
        for who, ops in self.clauses:
            classes = set(who.replace("a", "ugo")) or {"u", "g", "o"}
            mask = 0
            for w in classes:
                mask |= _WHO_BITS[w]
            for op, perms in ops:
                bits = _perm_bits(perms, cur, is_dir) & mask
                if op == "+":
                    cur |= bits
                elif op == "-":
                    cur &= ~bits
                else:  # "=": the named classes get exactly these bits
                    cur = (cur & ~mask) | bits
        return cur


def _perm_bits(perms: str, cur: int, is_dir: bool) -> int:
    """Bits for a permission list, expressed for all of u, g and o (masked by the caller)."""
    if perms in ("u", "g", "o"):  # copy another class's current bits
        shift = {"u": 6, "g": 3, "o": 0}[perms]
        rwx = (cur >> shift) & 7
        return rwx << 6 | rwx << 3 | rwx
    bits = 0
    for p in perms:
        if p == "r":
            bits |= 0o444
        elif p == "w":
            bits |= 0o222
        elif p == "x":
            bits |= 0o111
        elif p == "X":
            if is_dir or cur & 0o111:
                bits |= 0o111
        elif p == "s":
            bits |= 0o6000
        elif p == "t":
            bits |= 0o1000
    return bits


def parse_chmod(text: str) -> Chmod:
    """Parse a ``--chmod`` value; raise BuildError naming it when it is not valid."""
    value = text.strip()
    if _OCTAL.fullmatch(value):
        return Chmod(text=text, octal=int(value, 8))
    clauses = []
    for clause in value.split(","):
        m = _CLAUSE.fullmatch(clause)
        if not m:
            raise BuildError(f"invalid --chmod value {text!r}: expected an octal mode such as 755 "
                             "or symbolic clauses such as u+x,g-w")
        ops = tuple((o.group(1), o.group(2)) for o in _OP.finditer(m.group(2)))
        clauses.append((m.group(1), ops))
    return Chmod(text=text, octal=None, clauses=tuple(clauses))
