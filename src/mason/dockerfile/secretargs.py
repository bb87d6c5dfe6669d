"""BuildKit's ``SecretsUsedInArgOrEnv`` check: ARG/ENV names (and --build-arg names) that look
like credentials.

Build args and ENV values end up in the image config and history (ENV), or in the cache key
and the history of every RUN that uses them (ARG): anyone who can pull the image reads them.
Secrets belong in ``RUN --mount=type=secret``. Like BuildKit this is a warning on the *name*
(``AWS_SECRET_KEY``, ``NPM_TOKEN``, ``DB_PASSWORD``), never showing the value.
"""

from __future__ import annotations

import re
from typing import Mapping

from mason.dockerfile.instructions import Arg, Env
from mason.dockerfile.syntax import Diagnostic

# BuildKit's patterns: a word (separated by "_" or the ends) naming a credential, unless "public".
_SECRET_WORD = re.compile(r"(?:_|^)(?:apikey|auth|credential|credentials|key|password|pass|pword|passwd|secret|token)"
                          r"(?:_|$)", re.IGNORECASE)
_PUBLIC_WORD = re.compile(r"(?:_|^)public(?:_|$)", re.IGNORECASE)
RULE = "SecretsUsedInArgOrEnv"


def secret_like(name: str) -> bool:
    """True when ``name`` looks like it holds a credential (BuildKit's rule)."""
    return bool(_SECRET_WORD.search(name)) and not _PUBLIC_WORD.search(name)


def secret_warnings(instructions, build_args: Mapping[str, str], file: str) -> tuple[Diagnostic, ...]:
    """One warning per ARG/ENV key and per --build-arg whose name looks like a secret."""
    out = []
    for ins in instructions:
        if isinstance(ins, Arg):
            names, kind = [d.name for d in ins.args], "ARG"
        elif isinstance(ins, Env):
            names, kind = [p.key for p in ins.pairs], "ENV"
        else:
            continue
        for name in names:
            if secret_like(name):
                out.append(Diagnostic(f"Do not use ARG or ENV instructions for sensitive data ({kind} {name!r}): "
                                      "its value is stored in the image; use RUN --mount=type=secret",
                                      file, ins.location.start_line, rule=RULE))
    for name in sorted(build_args):
        if secret_like(name):
            out.append(Diagnostic(f"--build-arg {name} looks like a secret: build-arg values are recorded in "
                                  "the image history and cache keys of the RUNs that use them; pass it with "
                                  "--secret and RUN --mount=type=secret instead", file, 1, rule=RULE))
    return tuple(out)
