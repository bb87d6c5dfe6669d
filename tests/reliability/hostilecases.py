"""Hostile base layers: what a pulled image controls, as a table shared by the policy matrix
(``test_rel_layer_policy.py``: every layer writer) and the build-level suite
(``test_rel_hostile_images.py``: every isolation level).

Each case is a list of layers (each a list of ``member`` tuples) and the expected decision:
``refuse`` with a word the error must contain, or ``accept``. ``SENTINEL`` in a name or link
target is replaced by the path of a directory outside the root (what an escape would reach).
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

SENTINEL = "@SENTINEL@"
UP = "../" * 30 + SENTINEL.lstrip("/")


@dataclass(frozen=True)
class Case:
    layers: tuple
    refuse: str | None = None      # a word of the refusal; None: accepted


def member(name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"", mode: int = 0o644,
           linkname: str = "", size: int | None = None, devmajor: int = 0, devminor: int = 0,
           pax: dict | None = None):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, linkname
    info.mtime = 1_600_000_000
    info.devmajor, info.devminor = devmajor, devminor
    info.size = len(data) if size is None else size
    info.pax_headers = dict(pax or {})
    return info, data


def layer_tar(members, sentinel: str) -> bytes:
    """Exactly ``members`` (no normalisation, so hostile names survive); a member declaring more
    bytes than it has ends the stream after its header (the size alone must be refused)."""
    buf = io.BytesIO()
    with tarfile.TarFile(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            info = _placed(info, sentinel)
            if info.isreg() and info.size > len(data):
                buf.write(info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 4096)
                return buf.getvalue()
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _placed(info: tarfile.TarInfo, sentinel: str) -> tarfile.TarInfo:
    copy = tarfile.TarInfo(info.name.replace(SENTINEL, sentinel))
    for attr in ("type", "mode", "mtime", "devmajor", "devminor", "size", "uid", "gid"):
        setattr(copy, attr, getattr(info, attr))
    copy.linkname = info.linkname.replace(SENTINEL, sentinel)
    copy.pax_headers = dict(info.pax_headers)
    return copy


def _f(name, data=b"x", **kw):
    return member(name, data=data, **kw)


def _d(name, mode=0o755):
    return member(name, tarfile.DIRTYPE, mode=mode)


def _s(name, target):
    return member(name, tarfile.SYMTYPE, linkname=target)


def _h(name, target):
    return member(name, tarfile.LNKTYPE, linkname=target)


def _dev(name, kind, major, minor):
    return member(name, kind, devmajor=major, devminor=minor, mode=0o666)


BASE = [_d("etc"), _f("etc/passwd", b"root\n"), _d("d"), _f("d/a", b"a"), _f("d/b", b"b"), _f("keep", b"k")]

CASES: dict[str, Case] = {
    # names
    "dotdot": Case(([_f(UP + "/pwned")],), "'..'"),
    "dotdot inside": Case(([_f("a/../../x")],), "'..'"),
    "absolute name": Case(([_f(SENTINEL + "/pwned")],)),
    "long name": Case(([_f("a" * 100 + "/" + "b" * 4100)],), "longer than"),
    "pax path override": Case(([_f("x", pax={"path": "../../escape"})],), "'..'"),
    "aufs metadata": Case(([_f(".wh..wh.plnk/x")],), "whiteout"),
    # links
    "symlink then file (absolute)": Case(([_s("esc", SENTINEL), _f("esc/pwned")],), "symbolic link"),
    "symlink then file (relative)": Case(([_d("d"), _s("d/up", "../" * 30 + "tmp"), _f("d/up/pwned")],),
                                         "symbolic link"),
    "symlink then whiteout": Case(([_s("esc", SENTINEL), _f("esc/.wh.passwd", b"")],), "symbolic link"),
    "symlink then opaque": Case(([_s("esc", SENTINEL), _f("esc/.wh..wh..opq", b"")],), "symbolic link"),
    "file then file below it": Case(([_f("f"), _f("f/x")],), "not a directory"),
    "symlink below, file through it above": Case(([_s("esc", SENTINEL)], [_f("esc/passwd", b"pwned")])),
    "symlink below, whiteout through it above": Case(([_s("esc", SENTINEL)], [_f("esc/.wh.passwd", b"")])),
    "symlink below, opaque through it above": Case(([_s("esc", SENTINEL)], [_f("esc/.wh..wh..opq", b"")])),
    "file below, file under it above": Case(([_f("f")], [_f("f/x")])),
    "long absolute symlink target (pax)": Case(([_s("l", "/" + "t" * 300)],)),
    # hard links
    "hardlink absolute": Case(([_h("h", SENTINEL + "/passwd")],), "absolute"),
    "hardlink up": Case(([_h("h", UP + "/passwd")],), "'..'"),
    "hardlink missing": Case(([_h("h", "nothing")],), "does not exist"),
    "hardlink to a lower layer": Case((BASE, [_h("h", "etc/passwd")]), "does not exist"),
    "hardlink to a whiteout": Case(([_h("h", ".wh.x")],), "not a linkable"),
    "hardlink to a directory": Case(([_d("a"), _h("h", "a")],), "is a directory"),
    "hardlink to itself": Case(([_f("h"), _h("h", "h")],), "itself"),
    "hardlink to a replaced directory's child": Case(([_d("d"), _f("d/x"), _f("d"), _h("h", "d/x")],),
                                                     "does not exist"),
    "hardlink through a symlink": Case(([_d("a"), _f("a/x"), _s("l", "a"), _h("h", "l/x")],), "does not exist"),
    "hardlink in the layer": Case(([_f("a", b"data"), _h("b", "a")],)),
    # whiteouts
    "whiteout of ..": Case(([_f("keep")], [_f(".wh..", b"")]), "whiteout"),
    "whiteout of the root": Case(([_f("keep")], [_f(".wh.", b"")]), "whiteout"),
    "whiteout of ./..": Case(([_f("keep")], [_f("./.wh..", b"")]), "whiteout"),
    "whiteout name as directory": Case(([_f("keep")], [_f(".wh..wh..opq/x", b"")]), "whiteout"),
    "whiteout of a lower directory": Case((BASE, [_f(".wh.d", b"")])),
    "whiteout under missing parents": Case((BASE, [_f("x/y/.wh.z", b"")])),
    "whiteout of own content": Case((BASE, [_f("n", b"new"), _f(".wh.n", b"")])),
    "opaque at the layer root": Case((BASE, [_f(".wh..wh..opq", b"")]), "opaque"),
    "opaque at the layer root with content": Case((BASE, [_f(".wh..wh..opq", b""), _f("new")]), "opaque"),
    "opaque in a subdirectory": Case((BASE, [_d("d"), _f("d/.wh..wh..opq", b""), _f("d/c", b"c")])),
    "opaque after the content": Case((BASE, [_d("d"), _f("d/c", b"c"), _f("d/.wh..wh..opq", b"")])),
    # duplicates
    "duplicate file": Case(([_f("x", b"first"), _f("x", b"second")],)),
    "file then symlink": Case(([_f("y", b"file"), _s("y", "x")],)),
    "directory then file": Case(([_d("z"), _f("z/in"), _f("z", b"file")],)),
    "file then directory": Case(([_f("z", b"file"), _d("z"), _f("z/in")],)),
    "directory over lower symlink": Case(([_s("l", SENTINEL)], [_d("l"), _f("l/in")])),
    # devices and modes
    "block device": Case(([_d("dev"), _dev("dev/sda", tarfile.BLKTYPE, 8, 0)],), "device"),
    "/dev/mem": Case(([_d("dev"), _dev("dev/mem", tarfile.CHRTYPE, 1, 1)],), "device"),
    "loop-control": Case(([_d("dev"), _dev("dev/lc", tarfile.CHRTYPE, 10, 237)],), "device"),
    "0/0 device outside a whiteout": Case(([_d("dev"), _dev("dev/wh", tarfile.CHRTYPE, 0, 0)],), "device"),
    "/dev/null": Case(([_d("dev"), _dev("dev/null", tarfile.CHRTYPE, 1, 3)],)),
    "fifo": Case(([member("p", tarfile.FIFOTYPE)],)),
    "setuid and setgid": Case(([_f("su", b"#!", mode=0o6755)],)),
    "overlay xattr": Case(([_f("x", pax={"SCHILY.xattr.trusted.overlay.opaque": "y"})],), "overlay"),
    "user overlay xattr": Case(([_d("o"), _f("o/x", pax={"SCHILY.xattr.user.overlay.opaque": "y"})],), "overlay"),
    # sizes
    "huge declared size": Case(([_f("big", size=10 ** 12)],), "'big'"),
    "many entries": Case(([_f(f"n{i}") for i in range(300)],), "more than"),
}

MAX_ENTRIES = 200     # the entry budget the matrix uses ("many entries" goes past it)
