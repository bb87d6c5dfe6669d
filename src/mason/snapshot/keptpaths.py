"""The parts of a host root that are not the build's: what extraction, snapshots and resets
never touch in host-root isolation (docs/unprivileged.md).

Three kinds, with different rules when an image (or a reset) meets them:

* ``mount``: every mount point of the container (``/proc/self/mountinfo``, not a fixed list):
  ``/proc``, ``/sys``, ``/dev``, ``/etc/resolv.conf``, CI volumes, service-account tokens. Image
  entries at or below one are skipped, exactly as the privileged mode's RUN sees its own mounts
  there and never the image's files; RUN writes there are not part of a layer (as mounts in
  every builder).
* ``runtime``: mason's interpreter, libraries and package (``mason.sandbox.container``).
* ``own``: this build's work directory, the host-root state directory, and the paths the build
  reads or writes outside a mount (context, cache dir, outputs, registry config).

An image entry at or below a ``runtime`` or ``own`` path is refused: writing it would corrupt
the builder or its inputs, and skipping it would silently change what RUNs see. The
*ancestors* of kept paths (``/etc`` for ``/etc/resolv.conf``, ``/tmp`` for a work dir) stay
directories: images set their metadata and fill them, resets empty them around the kept
entries, and an image entry that would turn one into a non-directory is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class KeptPaths:
    mounts: tuple[str, ...] = ()
    runtime: tuple[str, ...] = ()
    own: tuple[str, ...] = ()

    @staticmethod
    def of(*, runtime: tuple[str, ...], own: tuple[str, ...], markers: tuple[str, ...] = (),
           mountinfo: str = "/proc/self/mountinfo") -> "KeptPaths":
        """``markers``: files the container runtime created (``/.dockerenv``): kept like mounts."""
        from mason.sandbox.linux import mount_points

        found = {os.path.normpath(p) for p in mount_points(mountinfo) if p != "/"} | set(markers)
        mounts = tuple(sorted(found))
        return KeptPaths(mounts, tuple(sorted({os.path.normpath(p) for p in runtime})),
                         tuple(sorted({os.path.normpath(p) for p in own})))

    def _rel(self, paths) -> frozenset[str]:
        return frozenset(p.strip("/") for p in paths if p.strip("/"))

    @property
    def relative(self) -> frozenset[str]:
        """Every kept path relative to ``/`` (the walker's ``ignore``: pruned with its subtree)."""
        return self._rel(self.mounts) | self._rel(self.runtime) | self._rel(self.own)

    @property
    def ancestors(self) -> frozenset[str]:
        """Relative directories above some kept path ("" is the root)."""
        out = {""}
        for rel in self.relative:
            parent = rel.rpartition("/")[0]
            while parent and parent not in out:
                out.add(parent)
                parent = parent.rpartition("/")[0]
        return frozenset(out)

    def kind_of(self, rel: str) -> tuple[str, str] | None:
        """``(kind, kept path)`` when relative path ``rel`` is at or below a kept path."""
        probe = rel.strip("/")
        while probe:
            for kind, group in (("mount", self.mounts), ("runtime", self.runtime), ("own", self.own)):
                if "/" + probe in group:
                    return kind, "/" + probe
            probe = probe.rpartition("/")[0]
        return None

    def describe(self) -> str:
        return (f"runtime {', '.join(self.runtime) or '-'}; mounts {len(self.mounts)}; "
                f"own {', '.join(self.own) or '-'}")
