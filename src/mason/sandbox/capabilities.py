"""What isolation this process may use, decided once per build and stated in the build log.

Four levels (docs/unprivileged.md):

* ``namespaces``: mount/PID/UTS/IPC namespaces and overlayfs work (root with CAP_SYS_ADMIN,
  no seccomp filter denying them).  RUN uses :class:`NamespaceRunner`, snapshots use overlay.
* ``chroot``: no new namespaces or mounts (Docker's default seccomp profile and capability set,
  the usual Kubernetes/GitLab CI pod), but CAP_SYS_CHROOT: RUN uses :class:`ChrootRunner`,
  snapshots use the stat walker.
* ``host-root``: the same container, when mason runs as root inside it and its runtime is
  self-contained (``mason.sandbox.container``): the build root is the container's own ``/``, as
  in Kaniko, so RUN gets the real ``/proc``, ``/sys`` and ``/dev``. Chosen over ``chroot``
  automatically inside a container; outside one only with ``--isolation=host-root --force``.
* ``none``: not even chroot: RUN cannot be isolated and is refused.

The probe runs in a throw-away child process (``python -I -S``) that tries the real operations
inside its own new mount namespace, so nothing it mounts survives it, and the only file it
creates is a temp dir under ``work_dir`` that is removed before returning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from mason.errors import UsageError

Level = Literal["namespaces", "host-root", "chroot", "none"]
FORCEABLE = ("auto", "namespaces", "host-root", "chroot")   # the --isolation flag's values
HOST_ROOT_LIMITS = ("RUN gets the container's /proc, /sys, /dev; / is reset and verified before each "
                    "stage and after the build; one build at a time per container (docs/unprivileged.md)")
# Stated in the build log with the level, so a RUN failing for these reasons is understood.
CHROOT_LIMITS = ("RUN gets no /proc, /sys, /dev/pts and shares this container's network; RUN --mount is "
                 "emulated without mounts; --network=none is refused (docs/unprivileged.md)")
_CAP_SYS_CHROOT = 18
_CAP_MKNOD = 27

_PROBE = r"""
import json, os, sys, importlib.util
spec = importlib.util.spec_from_file_location("_l", sys.argv[1]); L = importlib.util.module_from_spec(spec)
spec.loader.exec_module(L)
base = sys.argv[2]
out = {"namespaces": False, "overlay": False, "reason": ""}
try:
    L.unshare(L.CLONE_NEWNS | L.CLONE_NEWPID | L.CLONE_NEWUTS | L.CLONE_NEWIPC)
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    out["namespaces"] = True
    for d in ("l", "u", "w", "m"):
        os.mkdir(os.path.join(base, d))
    L.mount("overlay", os.path.join(base, "m"), "overlay", 0,
            "lowerdir=%s/l,upperdir=%s/u,workdir=%s/w" % (base, base, base))
    out["overlay"] = True
    L.umount2(os.path.join(base, "m"), 0)
except OSError as e:
    out["reason"] = str(e)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Isolation:
    """The chosen isolation level and the one-line reason shown in the build log."""

    level: Level
    reason: str
    overlay: bool = False  # overlayfs snapshots available (only with namespaces)
    container: str | None = None      # why this looks like a container (None: it does not)
    host_root: str | None = None      # why host-root is impossible here (None: it is possible)
    runtime: tuple[str, ...] = ()     # directories holding mason's runtime (host-root keeps them)


def capability_set() -> int:
    """The effective capability bitmask of this process (``CapEff`` in /proc/self/status)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def detect(work_dir: str | os.PathLike) -> Isolation:
    """Probe what this process may do; ``work_dir`` is where overlay upper dirs will live
    (the probe checks overlayfs accepts that filesystem as an upper layer)."""
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="probe-") as tmp:
        linux_py = str(Path(__file__).with_name("linux.py"))
        try:
            child: subprocess.Popen[str] | None = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _PROBE, linux_py, tmp],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={})
        except OSError as e:
            child, probe = None, {"namespaces": False, "overlay": False, "reason": f"probe failed: {e}"}
        try:
            # Worked out while the probe's interpreter starts: it runs on another CPU.
            container, blocker, roots = _host_root_facts()
            if child is not None:
                probe = _probe_result(child)
        finally:
            if child is not None and child.poll() is None:
                child.kill()
                child.communicate()
    from dataclasses import replace

    found = _classify(probe)
    found = replace(found, container=container, host_root=blocker, runtime=roots)
    if found.level in ("chroot", "none") and blocker is None and container is not None:
        return replace(found, level="host-root",
                       reason=f"{found.reason.split(';')[0]}; inside a container ({container}), as root, "
                              f"runtime self-contained in {', '.join(roots)}: building in / as Kaniko does; "
                              f"{HOST_ROOT_LIMITS}")
    if found.level == "chroot":
        why = blocker or "not inside a container"
        return replace(found, reason=f"{found.reason}; host-root isolation not chosen: {why}")
    return found


def _probe_result(child: subprocess.Popen[str]) -> dict:
    try:
        out, _ = child.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError, subprocess.TimeoutExpired) as e:
        return {"namespaces": False, "overlay": False, "reason": f"probe failed: {e}"}


def _classify(probe: dict) -> Isolation:
    if probe["namespaces"] and probe["overlay"]:
        return Isolation("namespaces", "mount/PID namespaces and overlayfs are available", overlay=True)
    caps = capability_set()
    why_not = probe["reason"] or "unknown"
    if probe["namespaces"]:
        # Namespaces but no overlay (e.g. a work dir on a filesystem overlayfs refuses as upper).
        return Isolation("namespaces", f"namespaces available; overlayfs is not ({why_not}): using the stat walker")
    if caps & (1 << _CAP_SYS_CHROOT):
        extra = "" if caps & (1 << _CAP_MKNOD) else "; no CAP_MKNOD: /dev nodes cannot be created"
        return Isolation("chroot", f"no new namespaces ({why_not}); chroot is allowed{extra}; {CHROOT_LIMITS}")
    return Isolation("none", f"no new namespaces ({why_not}) and no CAP_SYS_CHROOT")


def _host_root_facts() -> tuple[str | None, str | None, tuple[str, ...]]:
    """(container hint, why host-root is impossible, runtime directories)."""
    from mason.sandbox.container import container_hint, runtime_roots

    container = container_hint()
    if os.geteuid() != 0:
        return container, "not running as root", ()
    roots, loose = runtime_roots()
    if loose:
        more = f" and {len(loose) - 1} more" if len(loose) > 1 else ""
        return container, (f"mason's runtime is not self-contained: {loose[0]}{more} lie in system "
                           "directories a base image replaces"), roots
    return container, None, roots


def choose(detected: Isolation, forced: str | None = None, *, force: bool = False) -> Isolation:
    """Apply a ``--isolation`` flag: a sandboxing level may be forced down, never up past what
    works; ``host-root`` needs root, a self-contained runtime, and a container (or ``force``)."""
    from dataclasses import replace

    if forced is None or forced == "auto":
        return detected
    if forced not in FORCEABLE:
        raise UsageError(f"--isolation={forced}: expected auto, namespaces, host-root or chroot")
    if forced == "host-root":
        if detected.host_root is not None:
            raise UsageError(f"--isolation=host-root is not possible here: {detected.host_root}")
        if detected.container is None and not force:
            raise UsageError("--isolation=host-root outside a container: mason would replace this machine's "
                             "own / with the image's files",
                             hint="run mason inside a container, or add --force if this / is disposable")
        if detected.level == "host-root":
            return detected
        where = detected.container or "outside a container, --force given"
        return replace(detected, level="host-root", overlay=False,
                       reason=f"forced by --isolation=host-root (detected: {detected.level}; {where}); "
                              f"{HOST_ROOT_LIMITS}")
    order = ["none", "chroot", "namespaces"]
    have = "chroot" if detected.level == "host-root" else detected.level
    if order.index(forced) > order.index(have):
        raise UsageError(f"--isolation={forced} is not available here: {detected.reason}")
    if forced == detected.level:
        return detected
    limits = f"; {CHROOT_LIMITS}" if forced == "chroot" else ""
    return replace(detected, level=cast(Level, forced), overlay=detected.overlay and forced == "namespaces",
                   reason=f"forced by --isolation={forced} (detected: {detected.level}){limits}")
