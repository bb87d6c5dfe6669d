"""BuildKit's git URL query form (``?ref=``, ``?tag=``, ``?subdir=``…) and ADD from it."""

import subprocess

import pytest

from mason.errors import UsageError
from mason.fetch.git import GitSource, parse_buildkit
from mason.fsops import AddOptions, SourceTree, add


@pytest.mark.parametrize("text, want", [
    ("https://h/r.git?ref=main", GitSource("https://h/r.git", ref="main", submodules=True)),
    ("https://h/r.git?branch=dev&subdir=a/b/", GitSource("https://h/r.git", ref="refs/heads/dev", subdir="a/b",
                                                         submodules=True)),
    ("https://h/r.git?tag=v1&submodules=false", GitSource("https://h/r.git", ref="refs/tags/v1")),
    ("https://h/r.git?commit=" + "a" * 40 + "&keep-git-dir=true",
     GitSource("https://h/r.git", commit="a" * 40, submodules=True, keep_git_dir=True)),
    ("https://h/r.git#main:sub", GitSource("https://h/r.git", ref="main", subdir="sub", submodules=True)),
])
def test_query_parameters(text, want):
    assert parse_buildkit(text) == want


@pytest.mark.parametrize("text, fragment", [
    ("https://h/r.git?nope=1", "unknown query parameter 'nope'"),
    ("https://h/r.git?ref=a&tag=b", "one of ref, branch and tag"),
    ("https://h/r.git?commit=xyz", "not a commit hash"),
    ("https://h/r.git?ref=a#b", "not both"),
    ("https://h/r.git?submodules=maybe", "expected true or false"),
])
def test_bad_query_is_refused(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        parse_buildkit(text)


def _git(*args, cwd):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_add_from_git_query_tag_subdir_and_keep_git_dir(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "sub").mkdir()
    (work / "sub" / "f").write_text("v1\n")
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "one", cwd=work)
    _git("tag", "v1", cwd=work)
    (work / "sub" / "f").write_text("v2\n")
    _git("commit", "-q", "-am", "two", cwd=work)
    _git("clone", "-q", "--bare", str(work), str(tmp_path / "repo.git"), cwd=tmp_path)
    url = f"file://{tmp_path}/repo.git"
    root = tmp_path / "root"
    root.mkdir()
    ctx = SourceTree(str(tmp_path))
    add(ctx, [url + "?tag=v1&subdir=sub"], str(root), "/a/", work_dir=str(tmp_path))
    assert (root / "a/f").read_text() == "v1\n"
    add(ctx, [url + "?branch=main&keep-git-dir=true"], str(root), "/b/", work_dir=str(tmp_path))
    assert (root / "b/sub/f").read_text() == "v2\n" and (root / "b/.git").is_dir()
    add(ctx, [url + "?ref=main"], str(root), "/c/", work_dir=str(tmp_path), options=AddOptions())
    assert not (root / "c/.git").exists()
