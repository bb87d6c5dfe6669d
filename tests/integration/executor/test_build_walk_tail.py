"""The walk strategy's fast tail: COPYs no later step reads, over a skeleton root.

A stage whose remaining steps are COPYs needs none of its files (``mason.executor.directcopy``):
in walk mode its COPYs record their files instead of writing them, and, while the stage has
no full root, run over a *skeleton root* (the stage's directories and links, files left out
and hidden: ``mason.executor.rootfs.WalkStrategy.skeleton``). A COPY that reaches a hidden
file (an overwrite of a base file, or of a file recorded by an earlier COPY) runs again on
the full root. The image must be the overlay strategy's, byte for byte, and the one of a
walk build that writes every file.
"""

from __future__ import annotations

import os

import pytest

from mason.executor.rootfs import WalkStrategy
from mason.fsops.deferred import DeferredFiles, HiddenFileReached
from tests.integration.executor.buildhelpers import build, unpack, write_context

pytestmark = pytest.mark.integration

EPOCH = 1_700_000_000

DOCKERFILE = """\
ARG BASE
FROM ${BASE} AS gen
RUN mkdir -p /gen/d/e && for i in 1 2 3; do echo $i > /gen/d/f$i; done && ln /gen/d/f1 /gen/d/f1link \\
    && ln -s f2 /gen/d/sym && chown 7:8 /gen/d/f3
FROM ${BASE}
COPY src/ /opt/src/
COPY --chown=1000:1000 --chmod=640 src/ /owned/
COPY --parents src/sub/*.txt /parents/
COPY --from=gen /gen /opt/gen
COPY hl/ /hl/
COPY rootfile /bin/
COPY src/ /opt/src2/
COPY rootfile /opt/src2/a.txt
COPY src/ /opt/src3/
COPY rootfile /bin/sh
COPY --link src/ /linked/
"""

FILES = {"src/a.txt": "a\n", "src/sub/c.txt": "c\n", "src/sub/d.txt": "d\n", "rootfile": "root\n",
         "hl/a": "linked\n"}


@pytest.fixture(scope="module")
def built(tmp_path_factory, busybox_layout):
    tmp = tmp_path_factory.mktemp("walktail")
    ctx = write_context(tmp / "ctx", DOCKERFILE, FILES)
    os.link(ctx / "hl/a", ctx / "hl/b")
    args = {"BASE": f"oci:{busybox_layout}:latest"}
    mp = pytest.MonkeyPatch()
    skeleton_steps, hits = [], []
    real_step, real_check = WalkStrategy._skeleton_step, DeferredFiles.check
    mp.setattr(WalkStrategy, "_skeleton_step", lambda self, layers: (skeleton_steps.append(len(layers)),
                                                                     real_step(self, layers))[1])

    def check(self, inroot, **kw):
        try:
            real_check(self, inroot, **kw)
        except HiddenFileReached:
            hits.append(inroot)
            raise
    mp.setattr(DeferredFiles, "check", check)
    out, seen = {}, {}
    try:
        for mode, snapshot, direct in (("overlay", "overlay", True), ("walk", "walk", True),
                                       ("walk-written", "walk", False)):
            skeleton_steps.clear()
            hits.clear()
            out[mode], _ = build(ctx, tmp / f"out-{mode}", tmp / f"work-{mode}", source_date_epoch=EPOCH,
                                 build_args=args, direct_copy=direct, snapshot_mode=snapshot)
            seen[mode] = (list(skeleton_steps), list(hits))
    finally:
        mp.undo()
    return tmp, out, seen


def test_walk_tail_gives_the_overlay_image(built):
    _, out, _ = built
    assert out["walk"].image_digest == out["overlay"].image_digest
    assert out["walk-written"].image_digest == out["overlay"].image_digest


def test_tail_copies_ran_over_the_skeleton_until_one_reached_a_hidden_file(built):
    _, _, seen = built
    steps, hits = seen["walk"]
    # the first seven COPYs of the final stage (base layers + 0..6 own layers) on the skeleton root;
    # the overwrite of a file recorded by the COPY before it stops that, and the rest use the full root
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8], steps
    assert hits == ["/opt/src2/a.txt"], hits
    assert seen["walk-written"] == ([], [])


def test_tail_files_are_in_the_image(built):
    tmp, out, _ = built
    root = unpack(tmp / "out-walk", tmp / "unpacked")
    assert (root / "opt/src/a.txt").read_text() == "a\n" and (root / "opt/src2/a.txt").read_text() == "root\n"
    assert (root / "bin/rootfile").read_text() == "root\n"
    assert (root / "bin/sh").read_text() == "root\n" and not (root / "bin/sh").is_symlink()
    assert os.stat(root / "opt/gen/d/f1").st_ino == os.stat(root / "opt/gen/d/f1link").st_ino
    assert os.stat(root / "opt/gen/d/f3").st_uid == 7
    assert oct(os.stat(root / "owned/a.txt").st_mode & 0o7777) == oct(0o640)
    assert os.stat(root / "hl/a").st_ino == os.stat(root / "hl/b").st_ino
    assert (root / "bin/busybox").stat().st_size > 100_000    # base files untouched by the skeleton
