"""Context specs and local contexts (directory, tar file, tar on stdin, sub-path)."""

import io
import os
import tarfile

import pytest

import mason.context as context
from mason.context import (DirSpec, GitOptions, GitSpec, HttpTarSpec, TarSpec, open_context,
                           parse_context)
from mason.errors import NotSupportedError, UsageError
from mason.fsops import copy


def test_public_api_is_pinned():
    assert sorted(context.__all__) == sorted([
        "BuildContext", "open_context", "GitOptions", "GitSource", "is_git_url", "redact_url",
        "DirSpec", "GitSpec", "HttpTarSpec", "TarSpec", "parse_context"])


@pytest.mark.parametrize("text,expected", [
    ("/workspace", DirSpec("/workspace")), ("dir:///w", DirSpec("/w")), ("rel/dir", DirSpec("rel/dir")),
    ("tar://ctx.tar.gz", TarSpec("ctx.tar.gz")), ("tar://stdin", TarSpec(None)),
    ("https://example.com/ctx.tar.gz", HttpTarSpec("https://example.com/ctx.tar.gz")),
])
def test_parse_simple_specs(text, expected):
    assert parse_context(text) == expected


def test_parse_git_specs():
    k = parse_context("git://github.com/acme/app.git#refs/heads/dev#abc1234")
    assert isinstance(k, GitSpec)
    assert (k.source.url, k.source.ref, k.source.commit) == (
        "https://github.com/acme/app.git", "refs/heads/dev", "abc1234")
    b = parse_context("https://github.com/acme/app.git#v1.2:docker/ctx")
    assert (b.source.url, b.source.ref, b.source.subdir) == ("https://github.com/acme/app.git", "v1.2",
                                                             "docker/ctx")
    assert parse_context("git://h/r", git_pull_method="http").source.url == "http://h/r"


@pytest.mark.parametrize("text,err", [("", UsageError), ("s3://bucket/ctx.tar.gz", NotSupportedError),
                                      ("gs://b/c", NotSupportedError), ("ftp://x/y", UsageError),
                                      ("tar://", UsageError), ("git://", UsageError)])
def test_bad_specs(text, err):
    with pytest.raises(err):
        parse_context(text)


def test_git_options_parse():
    o = GitOptions.parse(["branch=dev,single-branch=true", "recurse-submodules=false"])
    assert o == GitOptions(branch="dev", single_branch=True, recurse_submodules=False)
    with pytest.raises(UsageError, match="unknown option 'depth'"):
        GitOptions.parse(["depth=1"])
    with pytest.raises(UsageError, match="true or false"):
        GitOptions.parse(["single-branch=yes"])


def test_dir_context_in_place_and_sub_path(tmp_path):
    (tmp_path / "ctx/app").mkdir(parents=True)
    (tmp_path / "ctx/app/f").write_text("x")
    c = open_context(str(tmp_path / "ctx"), str(tmp_path / "work"))
    assert c.root == str(tmp_path / "ctx")
    s = open_context("dir://" + str(tmp_path / "ctx"), str(tmp_path / "work"), sub_path="app")
    assert s.root == str(tmp_path / "ctx/app")
    with pytest.raises(UsageError, match="sub-path 'nope'"):
        open_context(str(tmp_path / "ctx"), str(tmp_path / "work"), sub_path="nope")
    with pytest.raises(UsageError, match="does not exist"):
        open_context(str(tmp_path / "missing"), str(tmp_path / "work"))


def _tar_bytes(mode="w:gz"):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode=mode) as tf:
        for name, data in (("Dockerfile", b"FROM scratch\n"), ("sub/a.txt", b"A"), ("secret", b"S")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return raw.getvalue()


def test_tar_context_file_and_ignore(tmp_path):
    (tmp_path / "ctx.tar.gz").write_bytes(_tar_bytes())
    work = tmp_path / "work"

    class Ign:
        has_exceptions = False

        def matches(self, rel):
            return rel == "secret"

    c = open_context("tar://" + str(tmp_path / "ctx.tar.gz"), str(work)).with_ignore(Ign())
    assert c.root.startswith(str(work))
    assert open(os.path.join(c.root, "sub/a.txt")).read() == "A"
    assert c.is_ignored("secret") and not c.is_ignored("sub/a.txt")
    root = tmp_path / "root"
    root.mkdir()
    copy(c.tree, ["."], str(root), "/")
    assert sorted(os.listdir(root)) == ["Dockerfile", "sub"]


def test_tar_context_from_stdin_stream(tmp_path):
    c = open_context("tar://stdin", str(tmp_path / "w"), stdin=io.BytesIO(_tar_bytes("w:xz")),
                     sub_path="sub")
    assert os.listdir(c.root) == ["a.txt"]
    assert os.listdir(tmp_path / "w") == [os.path.basename(os.path.dirname(c.root))]


def test_tar_context_not_an_archive(tmp_path):
    (tmp_path / "x.tar").write_text("plain text " * 100)
    with pytest.raises(UsageError, match="not a tar archive"):
        open_context("tar://" + str(tmp_path / "x.tar"), str(tmp_path / "w"))
