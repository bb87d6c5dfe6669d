"""Regular files a COPY decided not to write: recorded, to be streamed into the layer tar.

Creating a file is the dominant cost of a COPY on this kind of disk (``open(O_CREAT)`` on
ext4 scans the inode bitmap), and most COPY layers are never read back as files by a later
step of the build. So, when the caller asks for it, the copier records each regular file it
would create at a free path (destination in the root, source path, the metadata it would
have set) instead of writing it; directories, symlinks and everything else still go through
the real filesystem, so every rule of COPY keeps acting on the real root.

The layer is then written from the step's upper dir plus these records, byte for byte as if
the files had been written (``mason.executor.directcopy``). A record is turned back into a real
file (``flush``) as soon as anything else in the same COPY touches its path, so the copier's
own rules (overwrite, "not a directory") see exactly what they would have seen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mason.errors import BuildError
from mason.fsops import writer


class HiddenFileReached(BuildError):
    """A COPY running over a partial view of its stage (``mason.executor.directcopy``) reached a
    path whose file that view does not show: the step is run again over the full view.

    A signal between the copier and ``mason.executor.steps.copy``, never shown to a user (hence
    not in ``mason.errors``); a BuildError so that, if it ever escaped, it would still read
    as one.
    """


@dataclass(frozen=True)
class DeferredFile:
    """One regular file not written: ``inroot`` is its resolved in-root path ("/a/b", its
    parent a real directory of the root), ``source`` the host path its bytes come from."""

    inroot: str
    source: str
    size: int
    meta: writer.Meta
    xattrs: tuple[tuple[str, bytes], ...] = ()
    group: int | None = None   # files sharing one source inode share a group (hardlinks)


@dataclass
class DeferredFiles:
    """The records of one COPY/ADD step, by in-root path, in the order they were made."""

    files: dict[str, DeferredFile] = field(default_factory=dict)
    # Files of earlier steps that the step's root does not show (their layers are mounted as
    # skeletons: directories, links, no recorded files). Reaching one stops the step.
    hidden: frozenset[str] = frozenset()
    _groups: int = 0

    def check(self, inroot: str, *, prefixes: bool = False) -> None:
        """Raise ``HiddenFileReached`` if ``inroot`` (or, with ``prefixes``, one of its
        parents) is a file the root does not show."""
        if not self.hidden:
            return
        if inroot in self.hidden:
            raise HiddenFileReached(f"{inroot} is not in the partial view of the stage")
        if prefixes:
            parts = [c for c in inroot.split("/") if c]
            for k in range(1, len(parts)):
                if "/" + "/".join(parts[:k]) in self.hidden:
                    raise HiddenFileReached(f"{inroot} is below a file not in the partial view")

    def __contains__(self, inroot: str) -> bool:
        return inroot in self.files

    def __len__(self) -> int:
        return len(self.files)

    def new_group(self) -> int:
        self._groups += 1
        return self._groups

    def add(self, record: DeferredFile) -> None:
        self.files[record.inroot] = record

    def take(self, inroot: str) -> list[DeferredFile]:
        """Remove the record at ``inroot`` and, if it is one of a hardlink group, all the
        group (a group is written for real as a whole); returned in record order."""
        record = self.files[inroot]
        if record.group is None:
            return [self.files.pop(inroot)]
        members = [f for f in self.files.values() if f.group == record.group]
        for f in members:
            del self.files[f.inroot]
        return members


def write_real(root: str, members: list[DeferredFile]) -> str:
    """Write recorded files into ``root`` as the copier would have (the first one a copy of
    its source, the others hardlinks to it); returns the first one's host path."""
    from mason.fsops import rootpath

    first = rootpath.host_path(root, members[0].inroot)
    writer.write_file(first, members[0].inroot, members[0].source, members[0].meta, members[0].size)
    for name, value in members[0].xattrs:
        try:
            os.setxattr(first, name, value, follow_symlinks=False)
        except OSError as exc:
            raise BuildError(f"cannot set extended attribute {name!r} on {first!r}: {exc}") from None
    for other in members[1:]:
        writer.write_hardlink(rootpath.host_path(root, other.inroot), other.inroot, first)
    return first
