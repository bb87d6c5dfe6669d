"""A ``RUN --mount=type=secret`` value held in memory, never in a file on disk.

Written to the work dir, a secret survived a SIGKILLed mason in plaintext (the stale work dir
is only removed by the next build there), and on the scratch filesystem its bytes reached
the disk behind it. Instead each secret is a ``memfd`` (an anonymous tmpfs file of mason's
own, mode and owner as the mount asks), reached as ``/proc/<mason>/fd/<n>``:

* the privileged level bind-mounts that path at the target: the RUN sees a regular file with
  the mount's mode (0400 by default), uid and gid, read-only; the bytes stay in memory, and
  when mason dies (however it dies) the descriptor closes and the RUN's mount namespace goes
  with the RUN, so nothing is left to find;
* the chroot and host-root levels cannot mount: ``mason.sandbox.mountemu`` copies the file into
  the root for the RUN and unlinks it right after. There the value is on the root's
  filesystem while the RUN runs (no tmpfs can be placed inside the root without mount rights,
  and a chroot has no ``/proc`` to reach the memfd through); docs/security.md says so.

The file is sealed against writes and size changes, so no process that can reach it through
``/proc`` can change what a later RUN reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

# F_ADD_SEALS and its seals (linux/fcntl.h); fcntl exposes them from Python 3.8 on Linux
_F_ADD_SEALS = getattr(fcntl, "F_ADD_SEALS", 1033)
_SEALS = (getattr(fcntl, "F_SEAL_SEAL", 1) | getattr(fcntl, "F_SEAL_SHRINK", 2) | getattr(fcntl, "F_SEAL_GROW", 4)
          | getattr(fcntl, "F_SEAL_WRITE", 8))


def memory_secret(stack: contextlib.ExitStack, value: bytes, *, mode: int, uid: int, gid: int) -> str:
    """A path to a sealed in-memory file holding ``value``, valid until ``stack`` closes."""
    fd = os.memfd_create("mason-secret", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    stack.callback(os.close, fd)
    view = memoryview(value)
    while view:
        view = view[os.write(fd, view):]
    os.fchmod(fd, mode)
    os.fchown(fd, uid, gid)
    fcntl.fcntl(fd, _F_ADD_SEALS, _SEALS)
    return f"/proc/{os.getpid()}/fd/{fd}"
