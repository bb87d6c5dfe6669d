"""What a caller keeps out of a layer's reach in the root it extracts into.

Host-root isolation extracts straight into the container's ``/``, where some paths are not the
image's (the container's mounts, mason's own runtime and work files). The applier asks the
rule before it writes or removes anything; the rule itself (``mason.snapshot.keptpaths``) knows
which paths those are and what each kind demands.
"""

from __future__ import annotations

from typing import Protocol


class KeptRule(Protocol):
    def applies(self, parts: tuple[str, ...], *, directory: bool, entry: str) -> bool:
        """Whether the member ``entry`` at ``parts`` (a directory or not, or a whiteout: not)
        is applied; False leaves the root as it is there. Raises LayerError to refuse the layer."""
        ...

    def is_kept(self, parts: tuple[str, ...]) -> bool:
        """Whether ``parts`` is at or below a kept path: an opaque directory's pruning leaves it."""
        ...

    def holds_kept(self, parts: tuple[str, ...]) -> bool:
        """Whether a kept path is below ``parts``: pruning empties it around that path, never removes it."""
        ...
