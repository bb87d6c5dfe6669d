"""Remote sources with real tools: git repositories (file://) and HTTP on 127.0.0.1."""

import gzip
import hashlib
import http.server
import io
import os
import subprocess
import tarfile
import threading
from email.utils import formatdate

import pytest

from mason.context import GitOptions, open_context
from mason.errors import BuildError, UsageError
from mason.fsops import AddOptions, SourceTree, add

pytestmark = pytest.mark.integration

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": os.environ["PATH"], "HOME": "/tmp"}


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo.git"
    r.mkdir()
    git("init", "-q", "-b", "main", cwd=r)
    (r / "Dockerfile").write_text("FROM scratch\n")
    (r / "docker").mkdir()
    (r / "docker/app.txt").write_text("v1")
    git("add", "-A", cwd=r)
    git("commit", "-q", "-m", "one", cwd=r)
    first = git("rev-parse", "HEAD", cwd=r)
    git("tag", "v1", cwd=r)
    git("checkout", "-q", "-b", "dev", cwd=r)
    (r / "docker/app.txt").write_text("dev")
    git("commit", "-q", "-am", "two", cwd=r)
    git("checkout", "-q", "main", cwd=r)
    return r, first


def test_kaniko_git_context_with_ref_and_commit(tmp_path, repo):
    r, first = repo
    c = open_context(f"git://{r}#refs/heads/dev", str(tmp_path / "w"), git_pull_method="file")
    assert open(os.path.join(c.root, "docker/app.txt")).read() == "dev"
    assert not os.path.exists(os.path.join(c.root, ".git"))
    c2 = open_context(f"git://{r}#refs/heads/dev#{first}", str(tmp_path / "w"),
                      git_pull_method="file", sub_path="docker")
    assert c2.commit == first
    assert open(os.path.join(c2.root, "app.txt")).read() == "v1"


def test_buildkit_git_context_with_subdir_and_options(tmp_path, repo):
    r, _ = repo
    c = open_context(f"file://{r}#v1:docker", str(tmp_path / "w"), keep_git_dir=True)
    assert sorted(os.listdir(c.root)) == ["app.txt"]
    assert open(os.path.join(c.root, "app.txt")).read() == "v1"
    assert "subdirectory docker" in c.description


def test_git_branch_option_and_missing_ref(tmp_path, repo):
    r, _ = repo
    c = open_context(f"git://{r}", str(tmp_path / "w"), git_pull_method="file",
                     git_options=GitOptions(branch="dev", single_branch=True))
    assert open(os.path.join(c.root, "docker/app.txt")).read() == "dev"
    with pytest.raises(BuildError, match="git clone .* failed"):
        open_context(f"git://{r}#refs/heads/nope", str(tmp_path / "w"), git_pull_method="file")


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}

    def do_GET(self):
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", formatdate(1_600_000_000, usegmt=True))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    files = {}
    handler = type("H", (_Handler,), {"files": files})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", files
    srv.shutdown()
    srv.server_close()


def _tgz():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tf:
        ti = tarfile.TarInfo("ctx/Dockerfile")
        ti.size = 13
        tf.addfile(ti, io.BytesIO(b"FROM scratch\n"))
    return raw.getvalue()


def test_http_tarball_context(tmp_path, server):
    base, files = server
    files["/ctx.tar.gz"] = _tgz()
    c = open_context(base + "/ctx.tar.gz", str(tmp_path / "w"), sub_path="ctx")
    assert open(os.path.join(c.root, "Dockerfile")).read() == "FROM scratch\n"
    with pytest.raises(BuildError, match="HTTP 404"):
        open_context(base + "/missing.tar.gz", str(tmp_path / "w"))


def test_http_context_that_is_a_dockerfile(tmp_path, server):
    """A URL that returns no archive is the Dockerfile, in a context of its own that is empty
    (BuildKit); a compressed file that is no tar is an error, not a Dockerfile."""
    base, files = server
    files["/df"] = b"FROM scratch\nCOPY x /\n"
    c = open_context(base + "/df", str(tmp_path / "w"))
    assert open(c.dockerfile).read() == "FROM scratch\nCOPY x /\n"
    assert os.listdir(c.root) == [] and not c.dockerfile.startswith(c.root + "/")
    with pytest.raises(UsageError, match="lone Dockerfile"):
        open_context(base + "/df", str(tmp_path / "w2"), sub_path="sub")
    files["/broken.gz"] = gzip.compress(b"not a tar archive")
    with pytest.raises(BuildError, match="compressed file that is not a tar archive"):
        open_context(base + "/broken.gz", str(tmp_path / "w3"))


def test_add_url_mode_mtime_name_and_checksum(tmp_path, server):
    base, files = server
    files["/dl/tool.bin"] = b"binary!"
    files["/arch.tgz"] = _tgz()
    root, work = tmp_path / "root", tmp_path / "w"
    root.mkdir(), work.mkdir()
    empty = SourceTree(str(tmp_path))
    good = "sha256:" + hashlib.sha256(b"binary!").hexdigest()
    add(empty, [base + "/dl/tool.bin"], str(root), "/opt/", work_dir=str(work),
        options=AddOptions(checksum=good))
    st = os.lstat(root / "opt/tool.bin")
    assert (st.st_mode & 0o7777, st.st_mtime, st.st_uid) == (0o600, 1_600_000_000, 0)
    add(empty, [base + "/dl/tool.bin"], str(root), "/opt/renamed", work_dir=str(work),
        options=AddOptions(chmod="755", chown=(3, 4)))
    st = os.lstat(root / "opt/renamed")
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o755, 3, 4)
    bad = "sha256:" + "0" * 64
    with pytest.raises(BuildError, match=f"tool.bin.*{bad}.*{good}"):
        add(empty, [base + "/dl/tool.bin"], str(root), "/x/", work_dir=str(work),
            options=AddOptions(checksum=bad))
    assert not os.path.exists(root / "x/tool.bin")
    add(empty, [base + "/arch.tgz"], str(root), "/r/", work_dir=str(work))
    assert os.path.isfile(root / "r/arch.tgz")  # remote archives stay archives by default
    add(empty, [base + "/arch.tgz"], str(root), "/u/", work_dir=str(work),
        options=AddOptions(unpack=True))
    assert (root / "u/ctx/Dockerfile").read_text() == "FROM scratch\n"
    assert os.listdir(work) == []  # scratch files are gone


def test_add_git_with_and_without_git_dir(tmp_path, repo):
    r, first = repo
    root, work = tmp_path / "root", tmp_path / "w"
    root.mkdir(), work.mkdir()
    empty = SourceTree(str(tmp_path))
    url = f"file://{r}"  # the repo directory ends in .git, as BuildKit's git URLs do
    add(empty, [f"{url}#v1:docker"], str(root), "/src/", work_dir=str(work))
    assert (root / "src/app.txt").read_text() == "v1"
    assert os.lstat(root / "src/app.txt").st_uid == 0
    add(empty, [f"{url}#dev"], str(root), "/full/", work_dir=str(work),
        options=AddOptions(keep_git_dir=True))
    assert (root / "full/docker/app.txt").read_text() == "dev"
    assert (root / "full/.git").is_dir()
    add(empty, [f"{url}#main"], str(root), "/nogit/", work_dir=str(work))
    assert not (root / "nogit/.git").exists()
    with pytest.raises(BuildError, match="checksum mismatch"):
        add(empty, [f"{url}#main"], str(root), "/c/", work_dir=str(work),
            options=AddOptions(checksum="deadbeef"))
    add(empty, [f"{url}#v1"], str(root), "/c/", work_dir=str(work),
        options=AddOptions(checksum=first[:12]))
