"""Scrubbing a placed secret: its bytes zeroed before the unlink, the directory's times kept,
and nothing done to a file the RUN put at the path instead."""

from __future__ import annotations

import os

from mason.sandbox.scrub import scrub_file


def test_scrub_zeroes_then_unlinks_and_keeps_the_directory_times(tmp_path, monkeypatch):
    secret = tmp_path / "tok"
    secret.write_bytes(b"s3cret-value")
    os.utime(tmp_path, ns=(1_000_000_000, 2_000_000_000))
    st = os.lstat(secret)
    seen = {}
    real_unlink = os.unlink

    def unlink(path, *a, **kw):
        seen["bytes"] = open(path, "rb").read()     # what a freed block would still hold
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", unlink)
    assert scrub_file(str(secret), st.st_dev, st.st_ino)
    assert seen["bytes"] == bytes(len(b"s3cret-value"))
    assert not secret.exists()
    assert os.stat(tmp_path).st_mtime_ns == 2_000_000_000


def test_scrub_leaves_what_replaced_the_secret(tmp_path):
    placed = tmp_path / "placed"          # stands for the file mason placed (still open elsewhere)
    placed.write_bytes(b"value")
    st = os.lstat(placed)
    target = tmp_path / "tok"
    target.write_bytes(b"the RUN's own file")      # another inode now at the path
    assert not scrub_file(str(target), st.st_dev, st.st_ino)
    assert target.read_bytes() == b"the RUN's own file"


def test_scrub_of_nothing_is_done(tmp_path):
    assert scrub_file(str(tmp_path / "gone"), 0, 0)
