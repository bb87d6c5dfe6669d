"""Reading binfmt_misc: an entry counts when its magic and mask match the ELF header of the
platform's executables, it is enabled and has the F flag; anything else is refused by name."""

from __future__ import annotations

import pytest

from mason.errors import NotSupportedError
from mason.oci.platform import Platform, parse_platform
from mason.sandbox.binfmt import elf_header, is_native, read_entries, require_emulation

# qemu-user-static's registration for aarch64, as the kernel shows it
AARCH64 = ("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\noffset 0\n"
           "magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n")


def binfmt_dir(tmp_path, **entries):
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "register").write_text("")
    for name, text in entries.items():
        (tmp_path / name.replace("_", "-")).write_text(text)
    return tmp_path


def test_registered_interpreter_matches_its_platform(tmp_path):
    directory = binfmt_dir(tmp_path, qemu_aarch64=AARCH64.format(flags="OCF"))
    entry, = read_entries(directory)
    assert entry.enabled and "F" in entry.flags
    assert entry.matches(elf_header(parse_platform("linux/arm64")))
    assert not entry.matches(elf_header(parse_platform("linux/riscv64")))
    assert not entry.matches(elf_header(parse_platform("linux/amd64")))
    require_emulation([parse_platform("linux/arm64")], directory)     # no error


def test_the_entry_name_does_not_matter(tmp_path):
    directory = binfmt_dir(tmp_path, whatever=AARCH64.format(flags="F"))
    require_emulation([parse_platform("linux/arm64/v8")], directory)


@pytest.mark.parametrize("text, problem", [
    (AARCH64.format(flags="OC"), "lacks the F (fix-binary) flag"),
    (AARCH64.format(flags="F").replace("enabled", "disabled", 1), "is disabled"),
    (None, "none is registered for linux/arm64"),
])
def test_unusable_is_refused(tmp_path, text, problem):
    directory = binfmt_dir(tmp_path, **({"qemu_aarch64": text} if text else {}))
    with pytest.raises(NotSupportedError) as caught:
        require_emulation([parse_platform("linux/arm64")], directory)
    assert problem in str(caught.value)
    assert "qemu-user-static" in caught.value.hint and "qemu-aarch64" in caught.value.hint


def test_not_mounted(tmp_path):
    with pytest.raises(NotSupportedError) as caught:
        require_emulation([parse_platform("linux/arm64")], tmp_path / "nothing")
    assert "not mounted" in str(caught.value)


def test_native_platforms_need_nothing(tmp_path):
    amd64 = Platform("linux", "amd64")
    assert is_native(parse_platform("linux/386"), amd64)
    assert is_native(parse_platform("linux/amd64"), amd64)
    assert not is_native(parse_platform("linux/arm64"), amd64)
    assert is_native(parse_platform("linux/arm/v7"), Platform("linux", "arm64"))


def test_elf_headers():
    header = elf_header(parse_platform("linux/s390x"))
    assert header[:4] == b"\x7fELF" and header[4] == 2 and header[5] == 2 and header[18:20] == b"\x00\x16"
    assert elf_header(Platform("linux", "sparc64")) is None
