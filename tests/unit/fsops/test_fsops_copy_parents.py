"""``COPY --parents`` with ``**``, as BuildKit (dockerfile 1.10+, the first with --parents; v0.11.6
has none) builds it: the part before ``/./`` (else the context root) is copied with the rest
as an include pattern, so ``**`` spans directories and every matched path keeps its place
below the pivot; a pattern matching nothing copies nothing."""

from __future__ import annotations

import os

from mason.fsops import SourceTree, copy, digest_sources


def _ctx(tmp_path):
    ctx = tmp_path / "ctx"
    for rel, text in {"src/top.go": "1", "src/a/b/deep.go": "2", "src/a/skip.txt": "3", "other/x.go": "4"}.items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(text)
    root = tmp_path / "root"
    root.mkdir()
    return SourceTree(str(ctx)), root


def _files(root, under):
    base = root / under
    return sorted(os.path.relpath(os.path.join(d, f), base) for d, _, fs in os.walk(base) for f in fs)


def test_doublestar_below_a_pivot_keeps_the_paths_below_it(tmp_path):
    tree, root = _ctx(tmp_path)
    copy(tree, ["src/./**/*.go"], str(root), "/d/", parents=True)
    assert _files(root, "d") == ["a/b/deep.go", "top.go"]
    assert (root / "d/a/b/deep.go").read_text() == "2"


def test_doublestar_without_a_pivot_keeps_the_context_paths(tmp_path):
    tree, root = _ctx(tmp_path)
    copy(tree, ["src/**/*.go"], str(root), "/e/", parents=True)
    assert _files(root, "e") == ["src/a/b/deep.go", "src/top.go"]


def test_a_matched_directory_comes_whole_and_no_match_copies_nothing(tmp_path):
    tree, root = _ctx(tmp_path)
    copy(tree, ["./src/./a/**"], str(root), "/f/", parents=True)
    assert _files(root, "f") == ["a/b/deep.go", "a/skip.txt"]
    copy(tree, ["src/./**/*.rs", "other/x.go"], str(root), "/g/", parents=True)
    assert _files(root, "g") == ["other/x.go"]


def test_the_key_sees_what_the_copy_copies(tmp_path):
    tree, _ = _ctx(tmp_path)
    before = digest_sources(tree, ["src/./**/*.go"], dest="/d/", parents=True).digest
    (tmp_path / "ctx/src/a/skip.txt").write_text("changed")     # not selected
    assert digest_sources(tree, ["src/./**/*.go"], dest="/d/", parents=True).digest == before
    (tmp_path / "ctx/src/a/b/deep.go").write_text("changed")
    assert digest_sources(tree, ["src/./**/*.go"], dest="/d/", parents=True).digest != before
