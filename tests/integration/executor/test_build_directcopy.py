"""COPY layers streamed from the sources (mason.executor.directcopy) are the layers of old.

Each build runs twice, with ``direct_copy`` on (regular files recorded, never created) and
off (every file written into the step's overlay, as before): the image digests must be
equal, so every layer is byte-identical. The Dockerfile covers the rules the copier keeps
on the real root (overwrites of lower files, destinations through symlinks, hardlinks in and
across sources, a hardlink group meeting an occupied path, merged-usr style double targets,
--chown/--chmod/--parents/--exclude/wildcards/--link, ADD, xattrs from an image) and a RUN
after the COPYs that reads the files back (the layer extracted from its blob).
"""

from __future__ import annotations

import os
import tarfile

import pytest

from mason.errors import MasonError
from mason.fsops.deferred import DeferredFiles, HiddenFileReached
from tests.integration.executor.buildhelpers import build, unpack, write_context
from tests.support.images import _add_tar_layer, _new_image

EPOCH = 1_700_000_000   # "now" mtimes are clamped to it; the sources' older ones are kept
OLD = 1_600_000_000

DOCKERFILE = """\
ARG BASE
ARG XA
FROM ${XA} AS xa
FROM ${BASE} AS gen
RUN mkdir -p /gen/d/e && for i in 1 2 3; do echo $i > /gen/d/f$i; done && ln /gen/d/f1 /gen/d/f1link \\
    && ln /gen/d/f2 /gen/d/e/f2link && ln -s f2 /gen/d/sym && chown 7:8 /gen/d/f3
FROM ${BASE}
RUN mkdir -p /lower/dir /real /hlx /m/usr/lib /ign /onlydirs && echo old > /lower/file \\
    && ln -s /real /lower/link && echo keep > /lower/dir/keep && echo old > /hlx/b && ln -s usr/lib /m/lib
COPY src/ /opt/src/
COPY tree/ /lower/
COPY --chown=1000:1000 --chmod=640 src/ /owned/
COPY --chmod=u=rwx,go=rx src/a.txt /chmodded
COPY --parents src/sub/*.txt /parents/
COPY --exclude=*.log src/ /excl/
COPY src/*.txt /wild/
COPY hl/ /hl/
COPY hl/a hl/sub/c /hl2/
COPY hl/ /hlx/
COPY merged/ /m/
COPY c1/ c2/ /merge/
COPY rootfile /
COPY rootfile /lower/link/
COPY rootfile /lower/link/renamed
COPY src/empty/ /onlydirs/
COPY --from=gen /gen /opt/gen
COPY --from=xa /x/ /xa/
COPY src/ /opt/src2/
COPY src/a.txt /opt/src2/a.txt
COPY src/ /opt/src3/
COPY rootfile /opt/src3/sub/c.txt
COPY --link src/ /linked/
ADD addme/ /added/
ADD arch.tar addme/ /added2/
COPY ignsrc/ /
RUN cat /opt/src/a.txt /hl/a /hl2/c /opt/gen/d/f1link /real/rootfile /ign/f /kept/g /xa/plain /m/usr/lib/x \\
    /linked/sub/c.txt /added/one /opt/src3/sub/c.txt > /readback && ls -A /opt/src/empty >> /readback
"""

FILES = {
    "src/a.txt": "a\n", "src/b.log": "log\n", "src/sub/c.txt": "c\n", "src/sub/d.txt": "d\n",
    "src/run.sh": "#!/bin/sh\n", "tree/file": "new file\n", "tree/dir/new": "new in dir\n",
    "tree/link/inlink": "through link\n", "merged/lib/x": "from lib\n", "merged/usr/lib/x": "from usr/lib\n",
    "c1/x": "c1\n", "c1/only1": "1\n", "c2/x": "c2\n", "c2/only2": "2\n", "rootfile": "root\n",
    "addme/one": "one\n", "addme/deep/two": "two\n", "hl/a": "linked\n", "hl/solo": "solo\n",
    "ignsrc/ign/f": "ignored\n", "ignsrc/kept/g": "kept\n",
}


def _context(directory):
    ctx = write_context(directory, DOCKERFILE, FILES)
    (ctx / "src/empty").mkdir()
    os.chmod(ctx / "src/run.sh", 0o4755)
    (ctx / "hl/sub").mkdir()
    os.link(ctx / "hl/a", ctx / "hl/b")
    os.link(ctx / "hl/a", ctx / "hl/sub/c")
    os.link(ctx / "c1/x", ctx / "c1/y")   # c2/x then replaces x: y must keep c1's content
    with tarfile.open(ctx / "arch.tar", "w") as tar:
        tar.add(ctx / "c1/x", arcname="one")    # the archive writes the file the next source writes too
    stamp = OLD
    for dirpath, dirnames, filenames in sorted(os.walk(ctx, topdown=False)):
        for name in sorted(filenames + dirnames):
            stamp += 1
            os.utime(os.path.join(dirpath, name), (stamp, stamp), follow_symlinks=False)
    return ctx


def _xattr_image(tmp) -> str:
    """An image whose files carry xattrs: user.* ones (recorded) and a trusted.* one (written)."""
    layout = str(tmp / "xa-layout")
    _new_image(layout, "latest")
    path = tmp / "xa.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, xattrs in (("x", None), ("x/plain", {"user.foo": "bar", "user.a": "1"}),
                             ("x/trusted", {"trusted.mason-test": "t"}), ("x/none", None)):
            info = tarfile.TarInfo(name)
            info.mtime = OLD
            if name == "x":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            data = name.encode()
            info.size, info.mode = len(data), 0o644
            if xattrs:
                info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
            import io
            tar.addfile(info, io.BytesIO(data))
    _add_tar_layer(layout, "latest", str(path))
    return layout


@pytest.fixture(scope="module")
def built(tmp_path_factory, busybox_layout):
    tmp = tmp_path_factory.mktemp("directcopy")
    ctx = _context(tmp / "ctx")
    args = {"BASE": f"oci:{busybox_layout}:latest", "XA": f"oci:{_xattr_image(tmp)}:latest"}
    out = {}
    recorded = {}
    mp = pytest.MonkeyPatch()
    counts, hits = [], []
    real_add, real_check = DeferredFiles.add, DeferredFiles.check
    mp.setattr(DeferredFiles, "add", lambda self, record: (counts.append(record.inroot), real_add(self, record)))

    def check(self, inroot, **kw):
        try:
            real_check(self, inroot, **kw)
        except HiddenFileReached:
            hits.append(inroot)
            raise
    mp.setattr(DeferredFiles, "check", check)
    try:
        for mode, direct in (("direct", True), ("written", False)):
            counts.clear()
            result, _ = build(ctx, tmp / f"out-{mode}", tmp / f"work-{mode}", source_date_epoch=EPOCH,
                              build_args=args, ignore_paths=("ign",), direct_copy=direct,
                              snapshot_mode="overlay")
            out[mode] = result
            recorded[mode] = list(counts)
            recorded[mode + "-hidden"] = list(hits)
            hits.clear()
    finally:
        mp.undo()
    return tmp, out, recorded


def test_same_image_both_ways(built):
    _, out, recorded = built
    assert recorded["written"] == [] and recorded["written-hidden"] == []
    # the COPYs over files recorded by an earlier COPY of the stage ran again over the full view
    assert recorded["direct-hidden"] == ["/opt/src2/a.txt", "/opt/src3/sub/c.txt"]
    assert len(recorded["direct"]) >= 25, recorded["direct"]   # the fast path did run
    assert out["direct"].manifest == out["written"].manifest
    assert out["direct"].image_digest == out["written"].image_digest


def test_files_reach_the_image_and_the_later_run(built):
    tmp, _, recorded = built
    # what fell back to a real write (occupied paths, trusted xattr, ignored path…) was not recorded
    assert "/lower/file" not in recorded["direct"] and "/xa/trusted" not in recorded["direct"]
    assert "/xa/plain" in recorded["direct"] and "/opt/gen/d/f1link" in recorded["direct"]
    root = unpack(tmp / "out-direct", tmp / "unpacked")
    assert (root / "readback").read_text() == ("a\nlinked\nlinked\n1\nroot\nignored\nkept\nx/plainfrom usr/lib\n"
                                               "c\none\nroot\n")
    assert (root / "lower/file").read_text() == "new file\n"
    assert (root / "real/inlink").read_text() == "through link\n"
    assert (root / "real/renamed").read_text() == "root\n"
    assert (root / "merge/x").read_text() == "c2\n" and (root / "merge/y").read_text() == "c1\n"
    assert (root / "added2/one").read_text() == "one\n"
    assert not (root / "ign/f").exists()
    st = [os.stat(root / p) for p in ("hl/a", "hl/b", "hl/sub/c")]
    assert len({(s.st_dev, s.st_ino) for s in st}) == 1
    assert os.stat(root / "opt/gen/d/f1").st_ino == os.stat(root / "opt/gen/d/f1link").st_ino
    assert os.stat(root / "opt/gen/d/f3").st_uid == 7
    assert oct(os.stat(root / "opt/src/run.sh").st_mode & 0o7777) == oct(0o4755)
    assert oct(os.stat(root / "owned/a.txt").st_mode & 0o7777) == oct(0o640)
    assert os.stat(root / "opt/src/a.txt").st_mtime == os.stat(tmp / "ctx/src/a.txt").st_mtime
    assert os.stat(root / "lower/dir").st_mtime == os.stat(tmp / "ctx/tree/dir").st_mtime < EPOCH


def test_walk_strategy_gives_the_same_image(built, busybox_layout):
    """The stat walker (which writes every file) builds the same image, too."""
    tmp, out, _ = built
    args = {"BASE": f"oci:{busybox_layout}:latest", "XA": f"oci:{tmp / 'xa-layout'}:latest"}
    result, _ = build(tmp / "ctx", tmp / "out-walk", tmp / "work-walk", source_date_epoch=EPOCH,
                      build_args=args, ignore_paths=("ign",), snapshot_mode="walk")
    assert result.image_digest == out["direct"].image_digest


@pytest.mark.parametrize("direct", [True, False])
def test_file_then_directory_at_one_path_is_refused_both_ways(tmp_path, busybox_layout, direct):
    ctx = write_context(tmp_path / "ctx", "ARG BASE\nFROM ${BASE}\nCOPY one/ two/ /dst/\n",
                        {"one/x": "file\n", "two/x/inner": "dir\n"})
    with pytest.raises(MasonError) as err:
        build(ctx, tmp_path / "out", tmp_path / "work", source_date_epoch=EPOCH, direct_copy=direct,
              build_args={"BASE": f"oci:{busybox_layout}:latest"}, snapshot_mode="overlay")
    assert "cannot copy a directory to '/dst/x': it exists and is not a directory" in str(err.value)
