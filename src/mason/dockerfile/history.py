"""The history ``created_by`` text BuildKit's dockerfile2llb writes for an instruction.

For COPY/ADD it names the sources (after expansion) and heredocs, then the destination, and
no flags: ``COPY --from=base foo2 foo3`` is recorded as ``COPY foo2 foo3``.
"""

from __future__ import annotations

from mason.dockerfile.instructions import Add, Copy


def copy_created_by(ins: Copy | Add) -> str:
    words = ["ADD" if isinstance(ins, Add) else "COPY", *ins.sources]
    words += [f"<<{inline.name}" for inline in ins.inline]
    words.append(ins.dest)
    return " ".join(words) + " # buildkit"
