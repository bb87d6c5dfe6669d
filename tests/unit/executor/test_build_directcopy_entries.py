"""The tar members of deferred files: what FsEntryReader would read back from written ones."""

import os
from pathlib import Path

from mason.executor.directcopy import _seconds, layer_entries
from mason.fsops.deferred import DeferredFile, DeferredFiles
from mason.fsops.writer import Meta
from mason.tarfs.entries import EntryType


def _record(inroot, group=None, mtime_ns=1_600_000_000_500_000_000):
    return DeferredFile(inroot, "/src" + inroot, 3, Meta(1, 2, 0o644, mtime_ns), (("user.a", b"1"),), group)


def test_hardlink_group_content_goes_to_the_first_in_layer_order():
    d = DeferredFiles()
    for inroot in ("/z/first-recorded", "/a/b", "/a/.hidden", "/solo"):
        d.add(_record(inroot, group=None if inroot == "/solo" else 1))
    entries, dropped = layer_entries(d, ())
    by_path = {e.path: e for e in entries}
    assert not dropped
    assert by_path["a/.hidden"].type is EntryType.FILE and by_path["a/.hidden"].content == Path("/src/a/.hidden")
    assert by_path["a/b"].type is EntryType.HARDLINK and by_path["a/b"].linkname == "a/.hidden"
    assert by_path["a/b"].xattrs == ()
    assert by_path["z/first-recorded"].linkname == "a/.hidden"
    assert by_path["solo"].type is EntryType.FILE and by_path["solo"].xattrs == (("user.a", b"1"),)


def test_ignored_paths_are_left_out_and_reported():
    d = DeferredFiles()
    d.add(_record("/var/run/x"))
    d.add(_record("/kept"))
    entries, dropped = layer_entries(d, ("var/run",))
    assert [e.path for e in entries] == ["kept"] and dropped


def test_seconds_match_what_stat_reports(tmp_path):
    f = tmp_path / "f"
    f.write_text("")
    for ns in (1_700_000_000_999_999_999, 1_600_000_000_000_000_001, 0, 1_234_567_890_123_456_789):
        os.utime(f, ns=(ns, ns))
        assert _seconds(ns) == int(os.stat(f).st_mtime), ns
