"""The one device-node policy: base layers, ``ADD`` of a local tar, ``COPY`` from the context,
another stage or an image all accept and refuse the same device nodes, with the same words.

BuildKit keeps device nodes wherever they come from (fsutil's context receiver and its untar
``mknod`` them); a RUN cannot use them because runc's device cgroup denies every device but
Docker's default set. mason's RUN has no device cgroup, so a device node in its root is usable
by the RUN unless that root is mounted ``nodev``. Until every isolation mode mounts it so,
mason keeps only the nodes Docker's default cgroup allows to every container (below) and
refuses every other character or block device at the instruction that brings it: the FROM
line for a base layer, the COPY/ADD line for a context file or an archive member.
"""

from __future__ import annotations

import os
import stat

# (major, minor) of null, zero, full, random, urandom, tty, console, ptmx.
SAFE_DEVICES = frozenset({(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)})
SAFE_NAMES = "null, zero, full, random, urandom, tty, console and ptmx"


def device_allowed(is_char: bool, major: int, minor: int) -> bool:
    """True for a character device of the safe set; every block device is refused."""
    return is_char and (major, minor) in SAFE_DEVICES


def refusal(shown: str, is_char: bool, major: int, minor: int, where: str) -> tuple[str, str]:
    """(message, hint) for a refused device node ``shown`` found in ``where``."""
    kind = "character" if is_char else "block"
    return (f"{shown!r}: {kind} device {major}:{minor} is not allowed in {where} "
            "(a RUN could reach the host's devices through it)",
            f"only {SAFE_NAMES} device nodes are accepted; remove the node from {where}")


def check_stat(st, shown: str, where: str, error) -> None:
    """Refuse a device node described by ``st`` (an ``os.stat_result``) with ``error``."""
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    is_char = stat.S_ISCHR(st.st_mode)
    if not device_allowed(is_char, major, minor):
        message, hint = refusal(shown, is_char, major, minor, where)
        raise error(message, hint=hint)

