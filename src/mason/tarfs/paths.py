"""Member names: normalisation, refusal of escapes, and OCI whiteout names.

Normalisation follows Docker's: leading ``/`` and ``./`` are stripped, empty and ``.``
components dropped; ``..`` is refused outright (Docker rejects names that clean to a
path outside the root; refusing every ``..`` is simpler and no layer writer emits one).
"""

from __future__ import annotations

from mason.errors import LayerError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_META_PREFIX = ".wh..wh."
MAX_NAME_BYTES = 4096


def split_member(name: str, *, what: str = "entry") -> tuple[str, ...]:
    """Components of a tar member name relative to the root; ``()`` is the root itself."""
    if "\x00" in name:
        raise LayerError(f"{what} {name!r}: name contains a NUL byte")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise LayerError(f"{what} {name[:80]!r}...: name longer than {MAX_NAME_BYTES} bytes")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise LayerError(f"{what} {name!r}: '..' component would leave the root",
                         hint="the layer is malformed or hostile; it was not applied")
    return parts


def split_relative(path: str, *, what: str) -> tuple[str, ...]:
    """Components of a caller-given path that must already be relative and clean."""
    if path.startswith("/"):
        raise LayerError(f"{what} {path!r}: must be relative to the layer root")
    return split_member(path, what=what)


def whiteout_target(parts: tuple[str, ...], *, entry: str) -> tuple[str, ...] | None:
    """For a whiteout entry, the path it deletes; None if ``parts`` is no whiteout.

    The opaque marker is reported by ``is_opaque``; other ``.wh..wh.`` names (AUFS
    metadata such as ``.wh..wh.plnk``) are refused rather than silently extracted.
    """
    if not parts or not parts[-1].startswith(WHITEOUT_PREFIX):
        return None
    base = parts[-1]
    if base == OPAQUE_MARKER:
        return None
    if base.startswith(_META_PREFIX):
        raise LayerError(f"entry {entry!r}: unsupported whiteout metadata name {base!r}",
                         hint="AUFS-specific layer metadata is not part of the OCI layer format")
    target = base[len(WHITEOUT_PREFIX):]
    if target in ("", ".", ".."):
        raise LayerError(f"entry {entry!r}: whiteout of {target or 'the root'!r} would delete "
                         f"the root or leave it")
    return parts[:-1] + (target,)


def is_opaque(parts: tuple[str, ...]) -> bool:
    return bool(parts) and parts[-1] == OPAQUE_MARKER


def is_whiteout_name(parts: tuple[str, ...]) -> bool:
    return bool(parts) and parts[-1].startswith(WHITEOUT_PREFIX)


def sort_key(parts: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """Order for written layers: parents before children; in each directory the opaque
    marker first, then whiteouts, then other names (OCI asks for whiteouts before their
    siblings), each group sorted by name."""
    return tuple((0 if p == OPAQUE_MARKER else 1 if p.startswith(WHITEOUT_PREFIX) else 2, p)
                 for p in parts)
