"""The rules every layer member meets before it is written anywhere.

Shared by the directory extraction (``applier``) and the EROFS image writer
(``mason.erofs.tree``), so that both accept and refuse exactly the same layers with the same
messages: entry and size budgets, member names, hardlink targets, devices and xattrs.
"""

from __future__ import annotations

from mason.errors import LayerError
from mason.tarfs import devices
from mason.tarfs.entries import EntryType
from mason.tarfs.paths import WHITEOUT_PREFIX, is_whiteout_name, split_member
from mason.tarfs.reader import Member


class Budget:
    """Counts members and declared bytes against ``ExtractLimits`` (tar bombs)."""

    def __init__(self, limits, label: str):
        self._limits = limits
        self._label = label
        self._declared = 0
        self.entries = 0

    def admit(self, m: Member) -> None:
        limits = self._limits
        self.entries += 1
        if self.entries > limits.max_entries:
            raise LayerError(f"layer {self._label}: more than {limits.max_entries} entries "
                             f"(at {m.name!r})", hint=limits.entries_hint)
        self._declared += m.size
        if self._declared > limits.max_bytes:
            raise LayerError(f"layer {self._label}: entry {m.name!r} declares {m.size} bytes, "
                             f"beyond the limit of {limits.max_bytes} bytes in total")


def member_parts(m: Member) -> tuple[str, ...] | None:
    """The member's path components; None for the root directory's own entry (its metadata
    belongs to the caller, not to a layer)."""
    parts = split_member(m.name)
    if not parts:
        if m.type is EntryType.DIR:
            return None
        raise LayerError(f"entry {m.name!r}: a non-directory cannot replace the root")
    if any(p.startswith(WHITEOUT_PREFIX) for p in parts[:-1]):
        raise LayerError(f"entry {m.name!r}: a whiteout name used as a directory (AUFS "
                         f"whiteout metadata is not part of the OCI layer format)")
    return parts


def hardlink_target(parts: tuple[str, ...], m: Member) -> tuple[str, ...]:
    """The target of hardlink ``m`` as path components, refusing absolute names, escapes,
    whiteouts and links to themselves (whether it exists is the caller's to check)."""
    if m.linkname.startswith("/"):
        raise LayerError(f"entry {m.name!r}: hardlink to absolute name {m.linkname!r} refused",
                         hint="hardlink targets are member names relative to the layer root")
    target = split_member(m.linkname, what=f"hardlink {m.name!r} target")
    if not target or is_whiteout_name(target):
        raise LayerError(f"entry {m.name!r}: hardlink to {m.linkname!r} is not a linkable file")
    if target == parts:
        raise LayerError(f"entry {m.name!r}: hardlink to itself")
    return target


def check_device(m: Member, *, allow_devices: bool, allowed_devices) -> None:
    """``allowed_devices`` is ``devices.SAFE_DEVICES`` for every layer a build uses (the one
    device policy, ``mason.tarfs.devices``); None keeps them all (tools, tests)."""
    if not allow_devices:
        raise LayerError(f"entry {m.name!r}: device nodes are not allowed in this extraction",
                         hint="extract with allow_devices=True (needs CAP_MKNOD)")
    is_char = m.type is EntryType.CHAR
    if allowed_devices is not None and not (is_char and (m.devmajor, m.devminor) in allowed_devices):
        message, hint = devices.refusal(m.name, is_char, m.devmajor, m.devminor, "a base layer")
        raise LayerError(f"entry {message}", hint=hint)


def check_xattr_name(m: Member, key: str) -> None:
    if key.startswith(("trusted.overlay.", "user.overlay.")):
        raise LayerError(f"entry {m.name!r}: xattr {key} is overlayfs-internal and refused in a layer")


class WrittenPaths:
    """The paths a layer wrote and their ancestors: a layer's whiteout never hides the layer's
    own content, and an opaque directory keeps what the same layer added below it."""

    def __init__(self):
        self.written: set[tuple[str, ...]] = set()
        self.ancestors: set[tuple[str, ...]] = set()

    def mark(self, parts: tuple[str, ...]) -> None:
        self.written.add(parts)
        for i in range(len(parts) - 1, 0, -1):
            if parts[:i] in self.ancestors:
                break
            self.ancestors.add(parts[:i])
