"""Can this host run a RUN for another CPU architecture? Asked of the kernel's binfmt_misc.

A RUN for a foreign platform executes the base image's own binaries (``/bin/sh`` of an arm64
image on an amd64 host). The kernel runs them only through an interpreter registered in
binfmt_misc for that ELF machine (Debian's ``qemu-user-static`` registers ``qemu-<arch>``).
The interpreter must be registered with the ``F`` (fix-binary) flag: the kernel then opens it
once, at registration, and uses that open file in any mount namespace or chroot; without it
the kernel looks the interpreter's path up inside the RUN's root filesystem, where it is not.

The check reads each entry of the binfmt_misc directory (``enabled``, ``interpreter``,
``flags``, ``offset``, ``magic``, ``mask``) and matches it against the ELF header an
executable for the platform starts with, so an entry counts whatever its name. It runs before
any work (:func:`require_emulation`), so a missing interpreter is a clear error naming the
platform and what to install, never a RUN failing with ``exec format error`` halfway through.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from mason.errors import NotSupportedError
from mason.oci.platform import Platform, host_platform

DEFAULT_DIR = Path("/proc/sys/fs/binfmt_misc")

# normalised architecture -> (ELF class: 1 = 32-bit, 2 = 64-bit; data: 1 = little, 2 = big; e_machine)
_ELF = {
    "amd64": (2, 1, 62), "386": (1, 1, 3), "arm64": (2, 1, 183), "arm": (1, 1, 40),
    "riscv64": (2, 1, 243), "ppc64le": (2, 1, 21), "ppc64": (2, 2, 21), "s390x": (2, 2, 22),
    "mips64le": (2, 1, 8), "mips64": (2, 2, 8), "mipsle": (1, 1, 8), "mips": (1, 2, 8),
    "loong64": (2, 1, 258),
}
# Debian's qemu-user-static binary name per architecture
_QEMU = {"amd64": "x86_64", "386": "i386", "arm64": "aarch64", "arm": "arm", "riscv64": "riscv64",
         "ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "mips64le": "mips64el",
         "mips64": "mips64", "mipsle": "mipsel", "mips": "mips", "loong64": "loongarch64"}
# architectures a host runs natively besides its own (the CPU executes them itself)
_NATIVE_TOO = {"amd64": ("386",), "arm64": ("arm",)}


@dataclass(frozen=True)
class Entry:
    """One binfmt_misc registration, as its file in the binfmt_misc directory describes it."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int
    magic: bytes
    mask: bytes

    def matches(self, header: bytes) -> bool:
        data = header[self.offset:self.offset + len(self.magic)]
        if len(data) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((d & m) == (g & m) for d, m, g in zip(data, mask, self.magic))


def read_entries(directory: Path) -> list[Entry]:
    """Every magic-matching registration under ``directory`` (extension entries are skipped)."""
    entries = []
    try:
        names = sorted(p for p in directory.iterdir() if p.name not in ("register", "status"))
    except OSError:
        return []
    for path in names:
        try:
            fields = _fields(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if "magic" not in fields:
            continue
        entries.append(Entry(name=path.name, enabled=fields.get("", "") == "enabled",
                             interpreter=fields.get("interpreter", ""), flags=fields.get("flags", ""),
                             offset=int(fields.get("offset", "0") or 0),
                             magic=bytes.fromhex(fields["magic"]), mask=bytes.fromhex(fields.get("mask", ""))))
    return entries


def _fields(text: str) -> dict[str, str]:
    """An entry file: a first line ``enabled``/``disabled``, then ``key value`` lines."""
    lines = text.splitlines()
    out = {"": lines[0].strip() if lines else ""}
    for line in lines[1:]:
        key, _, value = line.partition(" ")
        out[key.rstrip(":")] = value.strip()
    return out


def elf_header(platform: Platform) -> bytes | None:
    """The first 20 bytes of an executable for ``platform`` (``None``: an unknown architecture)."""
    known = _ELF.get(platform.normalized().architecture)
    if known is None:
        return None
    klass, data, machine = known
    order = "<" if data == 1 else ">"
    return b"\x7fELF" + bytes([klass, data, 1]) + bytes(9) + struct.pack(order + "HH", 2, machine)


def is_native(platform: Platform, host: Platform | None = None) -> bool:
    """Whether the host CPU runs ``platform``'s binaries itself."""
    host = (host or host_platform()).normalized()
    arch = platform.normalized().architecture
    return arch == host.architecture or arch in _NATIVE_TOO.get(host.architecture, ())


def require_emulation(platforms: list[Platform], directory: Path = DEFAULT_DIR) -> None:
    """Refuse, before any work, a foreign platform this host has no usable interpreter for."""
    for platform in platforms:
        if is_native(platform):
            continue
        problem = _problem(platform, directory)
        if problem:
            qemu = _QEMU.get(platform.normalized().architecture, platform.normalized().architecture)
            raise NotSupportedError(
                f"RUN for {platform} on this {os.uname().machine} host needs a qemu-user interpreter "
                f"registered in binfmt_misc, and {problem}",
                hint=f"install Debian's qemu-user-static and binfmt-support (they register "
                     f"qemu-{qemu} with the F flag); binfmt_misc must be mounted at {directory} "
                     f"(mount -t binfmt_misc binfmt_misc {directory})")


def _problem(platform: Platform, directory: Path) -> str | None:
    header = elf_header(platform)
    if header is None:
        return f"mason does not know the ELF machine of {platform.architecture}"
    if not (directory / "status").exists():
        return f"binfmt_misc is not mounted at {directory}"
    found = [e for e in read_entries(directory) if e.matches(header)]
    if not found:
        return f"none is registered for {platform} in {directory}"
    usable = [e for e in found if e.enabled and "F" in e.flags]
    if usable:
        return None
    entry = found[0]
    if not entry.enabled:
        return f"{directory / entry.name} ({entry.interpreter}) is disabled"
    return (f"{directory / entry.name} ({entry.interpreter}) lacks the F (fix-binary) flag, so the "
            f"interpreter would be looked up inside the RUN's root filesystem")
