"""Scoped path resolution, Go wildcard matching, --exclude lists and --chmod parsing."""

import os

import pytest

from mason.errors import BuildError
from mason.fsops import make_dirs, parse_chmod, resolve, resolve_inroot
from mason.fsops.pathmatch import PatternList, match


def test_dotdot_clamps_at_root(tmp_path):
    assert resolve_inroot(str(tmp_path), "/../../etc/passwd") == "/etc/passwd"
    assert resolve(str(tmp_path), "a/../../b") == str(tmp_path / "b")


def test_absolute_symlink_is_relative_to_root(tmp_path):
    (tmp_path / "usr/lib").mkdir(parents=True)
    os.symlink("/usr/lib", tmp_path / "lib")
    os.symlink("/", tmp_path / "up")
    assert resolve_inroot(str(tmp_path), "/lib/x.so") == "/usr/lib/x.so"
    assert resolve_inroot(str(tmp_path), "/up/up/etc") == "/etc"


def test_relative_symlink_climbing_out_is_clamped(tmp_path):
    (tmp_path / "a").mkdir()
    os.symlink("../../../../tmp", tmp_path / "a/esc")
    assert resolve_inroot(str(tmp_path), "/a/esc/f") == "/tmp/f"


def test_final_symlink_kept_when_asked(tmp_path):
    os.symlink("/target", tmp_path / "link")
    assert resolve_inroot(str(tmp_path), "/link", follow_final=False) == "/link"
    assert resolve_inroot(str(tmp_path), "/link") == "/target"


def test_symlink_loop_is_an_error(tmp_path):
    os.symlink("/b", tmp_path / "a")
    os.symlink("/a", tmp_path / "b")
    with pytest.raises(BuildError, match="too many levels"):
        resolve_inroot(str(tmp_path), "/a/x")


def test_make_dirs_through_escaping_symlink_stays_inside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    os.symlink(str(outside), root / "evil")  # a host-absolute target: means <root>/<that path>
    created = []
    got = make_dirs(str(root), "/evil/new/dir", created=created)
    assert list(outside.iterdir()) == []
    assert got == str(outside).rstrip("/") + "/new/dir"
    assert (root / str(outside).lstrip("/") / "new/dir").is_dir()
    assert oct((root / str(outside).lstrip("/") / "new").stat().st_mode & 0o7777) == "0o755"
    assert created[-1] == got


def test_make_dirs_refuses_file_in_the_way(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(BuildError, match="not a directory"):
        make_dirs(str(tmp_path), "/f/sub")


@pytest.mark.parametrize("pattern,name,expected", [
    ("*.txt", "a.txt", True), ("*.txt", "d/a.txt", False), ("*/a.txt", "d/a.txt", True),
    ("?", "a", True), ("?", "/", False), ("[a-c]x", "bx", True), ("[^a-c]x", "dx", True),
    ("[^a-c]x", "bx", False), ("[^a]", "/", False), ("\\*", "*", True), ("\\*", "a", False),
    ("*", ".hidden", True), ("a*b", "a/b", False), ("[\\]]", "]", True),
])
def test_go_filepath_match(pattern, name, expected):
    assert match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[", "[]", "a\\", "[z-a]", "[-a]"])
def test_bad_patterns_raise(pattern):
    with pytest.raises(BuildError, match="invalid pattern"):
        match(pattern, "x")


def test_exclude_list_doublestar_exceptions_and_parents():
    pl = PatternList(["**/*.go", "!keep.go", "build", "/abs/x"])
    assert pl.matches("a/b/c.go") and pl.matches("c.go")
    assert not pl.matches("keep.go")
    assert pl.matches("build/deep/file")  # a matched directory covers its contents
    assert pl.matches("abs/x")
    assert not pl.matches("src/main.py")
    assert pl.has_exceptions


@pytest.mark.parametrize("spec,mode,is_dir,expected", [
    ("755", 0o600, False, 0o755), ("0644", 0o777, True, 0o644), ("4755", 0o644, False, 0o4755),
    ("u+x,g-w", 0o664, False, 0o744), ("a=rX", 0o700, True, 0o555), ("a=rX", 0o644, False, 0o444),
    ("a=rX", 0o744, False, 0o555), ("go=u", 0o750, False, 0o777), ("+x", 0o644, False, 0o755),
    ("o-rwx", 0o777, False, 0o770), ("u=rw,go=r", 0o777, False, 0o644), ("g+s", 0o755, True, 0o2755),
])
def test_chmod_octal_and_symbolic(spec, mode, is_dir, expected):
    assert parse_chmod(spec).apply(mode, is_dir) == expected


@pytest.mark.parametrize("spec", ["", "999", "u+q", "x+r", "u", "77777", "u+x,,g-w"])
def test_chmod_invalid(spec):
    with pytest.raises(BuildError, match="invalid --chmod"):
        parse_chmod(spec)
