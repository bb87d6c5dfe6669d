"""What ``RUN --mount=type=bind`` (from the build context) exposes: exactly what COPY would
read — ``.dockerignore`` applied, the device-node policy applied (``mason.tarfs.devices``).

BuildKit mounts the context *as transferred*, after ``.dockerignore``. mason's context is a
host directory, so binding it as is would show the RUN every ignored file (an ignored
``.env`` read by the RUN lands in the layer) and every device node in it. When the ignore file
hides something below the source, or the mount is writable (its writes are thrown away), the
RUN gets a copy made by ``mason.fsops.copy`` from the ignore-filtered tree; otherwise the
directory itself, read-only, after a walk that checks it holds no refused device node.
"""

from __future__ import annotations

import os
import stat

from mason.fsops.copy import copy
from mason.fsops.sources import SourceTree, select
from mason.tarfs import devices
from mason.errors import BuildError


def bind_source(tree: SourceTree, source: str, scratch: str, *, writable: bool) -> str:
    """The host path to bind for ``source`` of ``tree``; ``scratch`` (absent) may be made
    for a filtered or writable copy."""
    picked = select(tree, source or ".", where=None)
    if len(picked) != 1:
        raise BuildError(f"RUN --mount=type=bind: source {source!r} names {len(picked)} entries; "
                         "a bind mount takes one file or directory")
    sel = picked[0]
    if not writable and (not sel.is_dir or not _hides_something(tree, sel.real, sel.host)):
        return sel.host
    os.makedirs(scratch, mode=0o755)
    if not sel.is_dir:
        copy(tree, [source], scratch, "/")
        return os.path.join(scratch, os.path.basename(sel.named))
    copy(tree, [source or "."], scratch, "/")
    return scratch


def _hides_something(tree: SourceTree, rel: str, host: str) -> bool:
    """True when the ignore file hides an entry below ``rel``; refuses a visible device node."""
    stack = [(rel, host)]
    while stack:
        rel_dir, host_dir = stack.pop()
        try:
            names = os.listdir(host_dir)
        except PermissionError as exc:
            raise BuildError(f"cannot read {tree.label} directory {rel_dir or '/'!r}: {exc}") from None
        for name in names:
            ctx_rel = f"{rel_dir}/{name}" if rel_dir else name
            if tree.ignore is not None and tree.ignore.matches(ctx_rel):
                return True
            path = os.path.join(host_dir, name)
            st = os.lstat(path)
            devices.check_stat(st, ctx_rel, f"the {tree.label}", BuildError)
            if stat.S_ISDIR(st.st_mode):
                stack.append((ctx_rel, path))
    return False
