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
from typing import Callable

from mason.errors import LayerError


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

    def rule(self, warn: Callable[[str], None]) -> "KeptPathRule":
        """These paths as the rule a layer extracted straight into ``/`` obeys (``ExtractOptions.kept``)."""
        return KeptPathRule(self, warn)

    def not_applied(self, rel: str) -> str:
        """The warning for an image's non-directory at ``rel``, an ancestor of kept paths."""
        below = sorted(p for p in (*self.mounts, *self.runtime, *self.own) if p.startswith("/" + rel + "/"))
        return (f"host-root: the image's /{rel} is not applied: that directory holds "
                f"{', '.join(below[:3])}, which the container provides")


def refused(rel: str, kind: str, path: str) -> str:
    """Why an image entry at kept path ``path`` (of ``kind``) cannot be applied to ``/``."""
    return f"the image has /{rel}, which is mason's own {kind} path {path} in host-root isolation"


REFUSED_HINT = ("build with --isolation=chroot, or keep mason's runtime and work files under a path "
                "the image does not use")


class KeptPathRule:
    """``KeptPaths``' rules for a layer's members, as ``mason.tarfs.keptrule`` asks for them:
    an entry at or below a mount is skipped; at or below a runtime or own path it refuses the
    layer; an ancestor of a kept path stays a directory (a non-directory there is not applied,
    with a warning). The same rules as ``mason.snapshot.hostapply.apply_lower``'s, by path
    components (looked up per member, so a member outside every kept tree costs one lookup)."""

    def __init__(self, kept: KeptPaths, warn: Callable[[str], None]):
        self._kept = kept
        self._warn = warn
        self._kinds: dict[tuple[str, ...], tuple[str, str]] = {}
        for kind, group in (("mount", kept.mounts), ("runtime", kept.runtime), ("own", kept.own)):
            for path in group:
                parts = tuple(p for p in path.split("/") if p)
                if parts:
                    self._kinds.setdefault(parts, (kind, path))   # one path of two kinds: as kind_of
        self._ancestors = {tuple(a.split("/")) for a in kept.ancestors if a}
        self._tops = {parts[0] for parts in self._kinds}

    def _hit(self, parts: tuple[str, ...]) -> tuple[str, str] | None:
        if not parts or parts[0] not in self._tops:
            return None
        for end in range(len(parts), 0, -1):      # the deepest kept path wins, as in kind_of
            hit = self._kinds.get(parts[:end])
            if hit is not None:
                return hit
        return None

    def applies(self, parts: tuple[str, ...], *, directory: bool, entry: str) -> bool:
        hit = self._hit(parts)
        rel = "/".join(parts)
        if hit is not None:
            kind, path = hit
            if kind == "mount":
                return False
            if not (parts in self._ancestors and directory):
                raise LayerError(f"entry {entry!r}: {refused(rel, kind, path)}", hint=REFUSED_HINT)
        if parts in self._ancestors and not directory:
            self._warn(self._kept.not_applied(rel))
            return False
        return True

    def is_kept(self, parts: tuple[str, ...]) -> bool:
        return self._hit(parts) is not None

    def holds_kept(self, parts: tuple[str, ...]) -> bool:
        return parts in self._ancestors
