"""COPY semantics into a root (needs root for chown, as the build itself does)."""

import os
import stat

import pytest

from mason.errors import BuildError
from mason.fsops import SourceTree, copy, write_content


class Ignore:
    """Test double of the front end's .dockerignore matcher (fnmatch-free, explicit)."""

    def __init__(self, *paths, has_exceptions=False, keep=()):
        self.paths, self.keep, self.has_exceptions = paths, keep, has_exceptions

    def matches(self, rel):
        if rel in self.keep:
            return False
        return any(rel == p or rel.startswith(p + "/") for p in self.paths)


@pytest.fixture
def ctx(tmp_path):
    c = tmp_path / "ctx"
    (c / "dir/sub").mkdir(parents=True)
    (c / "a.txt").write_text("A")
    (c / "b.txt").write_text("B")
    (c / "dir/one").write_text("1")
    (c / "dir/sub/two").write_text("2")
    os.symlink("../a.txt", c / "dir/link")
    os.symlink("a.txt", c / "alink")
    os.chmod(c / "dir/one", 0o640)
    os.utime(c / "dir/one", ns=(1_000_000_000, 1_000_000_000))
    return c


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


def tree(c, ignore=None):
    return SourceTree(str(c), ignore)


def st(p):
    return os.lstat(p)


def test_file_into_dir_with_trailing_slash_and_parents_created(ctx, root):
    res = copy(tree(ctx), ["a.txt"], str(root), "/x/y/")
    assert (root / "x/y/a.txt").read_text() == "A"
    s = st(root / "x")
    assert (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (0, 0, 0o755)
    assert res.written == ["/x", "/x/y", "/x/y/a.txt"]


def test_file_to_new_name_and_into_existing_dir(ctx, root):
    (root / "exists").mkdir()
    copy(tree(ctx), ["a.txt"], str(root), "/renamed")
    copy(tree(ctx), ["a.txt"], str(root), "/exists")
    assert (root / "renamed").read_text() == "A"
    assert (root / "exists/a.txt").read_text() == "A"


def test_directory_copies_contents_with_symlinks_kept(ctx, root):
    copy(tree(ctx), ["dir"], str(root), "/d")
    assert sorted(os.listdir(root / "d")) == ["link", "one", "sub"]
    assert os.readlink(root / "d/link") == "../a.txt"
    assert (root / "d/sub/two").read_text() == "2"
    s = st(root / "d/one")
    assert stat.S_IMODE(s.st_mode) == 0o640 and s.st_mtime_ns == 1_000_000_000
    assert (s.st_uid, s.st_gid) == (0, 0)


def test_explicit_symlink_source_is_followed(ctx, root):
    copy(tree(ctx), ["alink"], str(root), "/out/")
    assert not os.path.islink(root / "out/alink")
    assert (root / "out/alink").read_text() == "A"


def test_wildcards_and_multiple_sources(ctx, root):
    copy(tree(ctx), ["*.txt"], str(root), "/w/")
    assert sorted(os.listdir(root / "w")) == ["a.txt", "b.txt"]
    with pytest.raises(BuildError, match="must be a directory"):
        copy(tree(ctx), ["*.txt"], str(root), "/notdir")
    with pytest.raises(BuildError, match="must be a directory"):
        copy(tree(ctx), ["a.txt", "b.txt"], str(root), "/notdir")
    copy(tree(ctx), ["a.*"], str(root), "/single")  # one match: a file destination is fine
    assert (root / "single").read_text() == "A"
    copy(tree(ctx), ["d?r/s*/*"], str(root), "/deep/")
    assert (root / "deep/two").read_text() == "2"


def test_missing_source_names_pattern_and_location(ctx, root):
    with pytest.raises(BuildError, match=r"'missing.txt' not found.*Dockerfile:7"):
        copy(tree(ctx), ["missing.txt"], str(root), "/", where="Dockerfile:7")


def test_wildcard_matching_nothing_selects_nothing(ctx, root):
    """BuildKit's AllowEmptyWildcard: ``COPY a.txt nomatch* /d/`` copies a.txt."""
    copy(tree(ctx), ["a.txt", "nope*"], str(root), "/d/")
    assert os.listdir(root / "d") == ["a.txt"]


def test_empty_destination_is_the_workdir(ctx, root):
    copy(tree(ctx), ["a.txt"], str(root), "", workdir="/w")
    assert (root / "w/a.txt").read_text() == "A"


def test_several_directories_merge_into_a_destination_without_slash(ctx, root):
    copy(tree(ctx), ["dir", "dir/sub"], str(root), "/m")
    assert sorted(os.listdir(root / "m")) == ["link", "one", "sub", "two"]


def test_source_outside_context_is_refused(ctx, root):
    with pytest.raises(BuildError, match="outside the build context"):
        copy(tree(ctx), ["../etc/passwd"], str(root), "/")
    with pytest.raises(BuildError, match="outside the build context"):
        copy(tree(ctx), ["dir/../../x"], str(root), "/")


def test_symlink_escaping_context_is_clamped(ctx, root, tmp_path):
    (tmp_path / "secret").write_text("S")
    os.symlink(str(tmp_path / "secret"), ctx / "esc")
    with pytest.raises(BuildError, match="'esc' not found"):
        copy(tree(ctx), ["esc"], str(root), "/")


def test_dockerignore_hides_paths(ctx, root):
    ign = Ignore("b.txt", "dir/sub")
    copy(tree(ctx, ign), ["*.txt", "dir"], str(root), "/i/")
    assert sorted(os.listdir(root / "i")) == ["a.txt", "link", "one"]
    with pytest.raises(BuildError, match="'b.txt' not found.*excluded by .dockerignore"):
        copy(tree(ctx, ign), ["b.txt"], str(root), "/")


def test_dockerignore_exception_inside_ignored_dir(ctx, root):
    ign = Ignore("dir", keep=("dir/sub/two",), has_exceptions=True)
    copy(tree(ctx, ign), ["."], str(root), "/e/")
    assert sorted(os.listdir(root / "e")) == ["a.txt", "alink", "b.txt", "dir"]
    assert os.listdir(root / "e/dir") == ["sub"]
    assert os.listdir(root / "e/dir/sub") == ["two"]


def test_exclude_patterns(ctx, root):
    copy(tree(ctx), ["."], str(root), "/x/", excludes=["*.txt", "dir/**/two"])
    assert sorted(os.listdir(root / "x")) == ["alink", "dir"]
    assert os.listdir(root / "x/dir/sub") == []
    copy(tree(ctx), ["*"], str(root), "/y/", excludes=["b.*"])
    assert "b.txt" not in os.listdir(root / "y")


def test_parents_keeps_source_paths_and_pivot(ctx, root):
    copy(tree(ctx), ["dir/sub/two", "a.txt"], str(root), "/p/", parents=True)
    assert (root / "p/dir/sub/two").read_text() == "2"
    assert (root / "p/a.txt").read_text() == "A"
    copy(tree(ctx), ["dir/./sub/two"], str(root), "/q/", parents=True)
    assert (root / "q/sub/two").read_text() == "2"


def test_relative_destination_uses_workdir(ctx, root):
    copy(tree(ctx), ["a.txt"], str(root), ".", workdir="/app")
    copy(tree(ctx), ["b.txt"], str(root), "sub/b", workdir="/app")
    assert (root / "app/a.txt").read_text() == "A"
    assert (root / "app/sub/b").read_text() == "B"


@pytest.mark.root
def test_chown_applies_to_files_dirs_and_created_parents(ctx, root):
    copy(tree(ctx), ["dir"], str(root), "/o/p/", chown=(1000, 1001))
    for rel in ("o", "o/p", "o/p/one", "o/p/sub", "o/p/sub/two", "o/p/link"):
        s = st(root / rel)
        assert (s.st_uid, s.st_gid) == (1000, 1001), rel


def test_chmod_octal_and_symbolic_on_files_and_dirs(ctx, root):
    copy(tree(ctx), ["dir"], str(root), "/m/", chmod="751")
    assert stat.S_IMODE(st(root / "m/one").st_mode) == 0o751
    assert stat.S_IMODE(st(root / "m/sub").st_mode) == 0o751
    copy(tree(ctx), ["dir"], str(root), "/s/", chmod="u+x,g-r")
    assert stat.S_IMODE(st(root / "s/one").st_mode) == 0o700
    assert stat.S_IMODE(st(root / "s/sub").st_mode) == 0o715  # 0755 source dir


def test_hardlinks_are_preserved(ctx, root):
    os.link(ctx / "dir/one", ctx / "dir/one-hl")
    copy(tree(ctx), ["dir"], str(root), "/h/")
    assert st(root / "h/one").st_ino == st(root / "h/one-hl").st_ino


@pytest.mark.root
def test_preserve_owner_for_stage_copies(ctx, root):
    os.lchown(ctx / "dir/one", 42, 43)
    copy(tree(ctx), ["dir/one"], str(root), "/k", preserve_owner=True)
    s = st(root / "k")
    assert (s.st_uid, s.st_gid) == (42, 43)
    copy(tree(ctx), ["dir/one"], str(root), "/z")
    assert (st(root / "z").st_uid, st(root / "z").st_gid) == (0, 0)


def test_writes_through_escaping_symlinks_stay_in_root(ctx, root, tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_text("untouched")
    os.symlink(str(sentinel), root / "abs")
    os.symlink("../../../../" + str(sentinel), root / "rel")
    copy(tree(ctx), ["a.txt"], str(root), "/abs/")
    copy(tree(ctx), ["dir"], str(root), "/rel/keep")
    copy(tree(ctx), ["b.txt"], str(root), "/abs/keep")
    assert sorted(os.listdir(sentinel)) == ["keep"]
    assert (sentinel / "keep").read_text() == "untouched"
    inside = root / str(sentinel).lstrip("/")
    assert (inside / "a.txt").read_text() == "A"
    assert (inside / "keep/one").read_text() == "1"


def test_existing_file_symlink_is_replaced_not_written_through(ctx, root, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("orig")
    (root / "d").mkdir()
    os.symlink(str(outside), root / "d/one")
    copy(tree(ctx), ["dir"], str(root), "/d/")
    assert outside.read_text() == "orig"
    assert (root / "d/one").read_text() == "1" and not os.path.islink(root / "d/one")


def test_image_symlinked_dir_is_merged_into(ctx, root):
    (root / "usr/dir").mkdir(parents=True)
    os.symlink("usr/dir", root / "dir")
    copy(tree(ctx), ["."], str(root), "/", excludes=["*.txt", "alink"])
    assert os.path.islink(root / "dir")
    assert (root / "usr/dir/one").read_text() == "1"


def test_directory_onto_file_is_an_error(ctx, root):
    (root / "f").write_text("x")
    with pytest.raises(BuildError, match="not a directory"):
        copy(tree(ctx), ["dir"], str(root), "/f")


@pytest.mark.root
def test_heredoc_content(root):
    res = write_content(str(root), "/etc/", "greeting", b"hello\n", chown=(5, 5), chmod="755",
                        mtime_ns=0)
    p = root / "etc/greeting"
    assert p.read_bytes() == b"hello\n"
    s = st(p)
    assert (s.st_uid, stat.S_IMODE(s.st_mode), s.st_mtime_ns) == (5, 0o755, 0)
    assert res.written == ["/etc", "/etc/greeting"]
    write_content(str(root), "/named", "ignored", b"x")
    assert (root / "named").read_bytes() == b"x"
    assert stat.S_IMODE(st(root / "named").st_mode) == 0o644


def test_socket_in_context_becomes_an_empty_file(ctx, root):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ctx / "s.sock"))
    sock.close()
    os.chmod(ctx / "s.sock", 0o640)
    copy(tree(ctx), ["s.sock"], str(root), "/")
    st = os.lstat(root / "s.sock")
    assert stat.S_ISREG(st.st_mode) and st.st_size == 0 and stat.S_IMODE(st.st_mode) == 0o640


def test_new_destination_directory_is_0755_root_or_chown(ctx, root):
    """fsutil's prepareTargetDir: the directory a COPY of a directory creates is 0755 and
    owned by --chown or 0:0, whatever the source directory; an existing one is kept."""
    os.chmod(ctx / "dir", 0o700)
    os.chown(ctx / "dir", 7, 8)
    copy(tree(ctx), ["dir"], str(root), "/new", preserve_owner=True)
    st = os.lstat(root / "new")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0)
    assert os.lstat(root / "new/one").st_mode & 0o777 == 0o640
    copy(tree(ctx), ["dir"], str(root), "/chowned", chown=(5, 6))
    st = os.lstat(root / "chowned")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 5, 6)
    (root / "kept").mkdir(mode=0o711)
    copy(tree(ctx), ["dir"], str(root), "/kept")
    assert stat.S_IMODE(os.lstat(root / "kept").st_mode) == 0o711
