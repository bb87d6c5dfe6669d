"""``mason build --context`` with every context kind, through the CLI (``build_cmd.run``).

A recording executor looks at the context directory while the "build" runs, so each test
checks what the build would read, that the unpacked copy lives in a private temp dir, and
that this dir is gone afterwards (also when the build fails). One test runs a real build.
Sources are local: tar files, a git repository reached over file:// and over git's dumb
HTTP protocol from an http.server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import os
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mason.cli import build_cmd
from mason.errors import BuildError

IMAGE = "sha256:" + "a" * 64


@dataclass
class Result:
    image_digest: str = IMAGE
    config_digest: str = IMAGE
    pushed: list = field(default_factory=list)
    steps: list = field(default_factory=list)


class Recorder:
    """An executor that records the context's files (relative path -> content) and its path."""

    def __init__(self, fail: Exception | None = None):
        self.files: dict[str, str] = {}
        self.context: Path | None = None
        self.fail = fail

    def __call__(self, options, *, reporter, env):
        self.context = Path(options.context_dir)
        for dirpath, _, names in os.walk(self.context):
            for name in names:
                p = Path(dirpath) / name
                self.files[str(p.relative_to(self.context))] = p.read_text()
        if self.fail:
            raise self.fail
        return Result()


def run(argv: list[str], cwd: Path, *, env: dict | None = None, stdin: bytes = b"", fail=None):
    recorder = Recorder(fail)
    err = io.StringIO()
    full_env = {"CI": "true", "TMPDIR": str(cwd / "tmp"), **(env or {})}
    (cwd / "tmp").mkdir(exist_ok=True)
    code = build_cmd.run(argparse.Namespace(kaniko_argv=["--no-push", *argv]), executor=recorder,
                         env=full_env, cwd=cwd, stdin=io.BytesIO(stdin), stdout=io.StringIO(), stderr=err)
    return code, recorder, err.getvalue()


def assert_cleaned(recorder: Recorder, cwd: Path) -> None:
    assert recorder.context is not None
    scratch = recorder.context
    while scratch.parent != cwd / "tmp":
        scratch = scratch.parent
    assert scratch.name.startswith("mason-context-")
    assert not scratch.exists(), f"unpacked context {scratch} was left behind"
    assert list((cwd / "tmp").iterdir()) == []


def make_tar(path: Path, files: dict[str, str], gz: bool = True) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def git(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> tuple[Path, dict[str, str]]:
    """A bare repo: main (Dockerfile "main"), dev (two commits: "dev1" then "dev2", with app/)."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "Dockerfile").write_text("FROM scratch\n# main\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "main", cwd=work)
    git("checkout", "-qb", "dev", cwd=work)
    (work / "Dockerfile").write_text("FROM scratch\n# dev1\n")
    git("commit", "-qam", "dev1", cwd=work)
    commits = {"dev1": git("rev-parse", "HEAD", cwd=work)}
    (work / "Dockerfile").write_text("FROM scratch\n# dev2\n")
    (work / "app").mkdir()
    (work / "app" / "Dockerfile").write_text("FROM scratch\n# app\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "dev2", cwd=work)
    bare = tmp_path / "repo.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)   # the default branch
    git("update-server-info", cwd=bare)   # for the dumb HTTP protocol
    return bare, commits


@pytest.fixture
def http_root(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (directory, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_tar_file_relative_to_cwd_with_sub_path(tmp_path):
    make_tar(tmp_path / "ctx.tar.gz", {"Dockerfile": "FROM scratch\n", "sub/Dockerfile": "FROM scratch\n# sub\n",
                                       "sub/f.txt": "hello"})
    code, rec, err = run(["--context=tar://ctx.tar.gz", "--context-sub-path=sub"], tmp_path)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# sub\n", "f.txt": "hello"}
    assert_cleaned(rec, tmp_path)


def test_tar_stdin_uncompressed(tmp_path):
    data = make_tar(tmp_path / "c.tar", {"Dockerfile": "FROM scratch\n# stdin\n"}, gz=False).read_bytes()
    code, rec, err = run(["-c", "tar://stdin"], tmp_path, stdin=data)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# stdin\n"}
    assert_cleaned(rec, tmp_path)


def test_tar_stdin_and_dockerfile_stdin_refused(tmp_path):
    code, rec, err = run(["-c", "tar://stdin", "-f", "-"], tmp_path, stdin=b"")
    assert code == 2 and "both read standard input" in err and rec.context is None


def test_failed_build_still_removes_the_unpacked_context(tmp_path):
    make_tar(tmp_path / "ctx.tgz", {"Dockerfile": "FROM scratch\n"})
    code, rec, err = run(["-c", "tar://ctx.tgz"], tmp_path, fail=BuildError("RUN exit 3 failed"))
    assert code == 1 and "RUN exit 3 failed" in err
    assert rec.files == {"Dockerfile": "FROM scratch\n"}
    assert_cleaned(rec, tmp_path)


def test_not_a_tar_is_an_error_and_leaves_nothing(tmp_path):
    (tmp_path / "ctx.tar").write_text("not a tar archive")
    code, rec, err = run(["-c", "tar://ctx.tar"], tmp_path)
    assert code == 2 and "is not a tar archive" in err and rec.context is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_kaniko_git_context_over_git_pull_method_file(tmp_path, repo):
    bare, commits = repo
    env = {"GIT_PULL_METHOD": "file"}
    code, rec, err = run(["-c", f"git://{bare}#refs/heads/dev"], tmp_path, env=env)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# dev2\n", "app/Dockerfile": "FROM scratch\n# app\n"}
    assert_cleaned(rec, tmp_path)
    # ref#commit pins an older commit of the branch; --git options reach the clone.
    code, rec, err = run(["-c", f"git://{bare}#refs/heads/dev#{commits['dev1']}",
                          "--git", "single-branch=true,recurse-submodules=false"], tmp_path, env=env)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# dev1\n"}
    # --git branch= picks the branch when the URL names none; --context-sub-path applies inside the clone.
    code, rec, err = run(["-c", f"git://{bare}", "--git=branch=dev", "--context-sub-path=app"], tmp_path, env=env)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# app\n"}
    code, rec, err = run(["-c", f"git://{bare}"], tmp_path, env=env)
    assert code == 0 and rec.files == {"Dockerfile": "FROM scratch\n# main\n"}
    assert_cleaned(rec, tmp_path)


def test_git_clone_failure_names_the_repo_and_cleans_up(tmp_path):
    code, rec, err = run(["-c", f"git://{tmp_path}/missing.git#refs/heads/main"], tmp_path,
                         env={"GIT_PULL_METHOD": "file"})
    assert code == 1 and "missing.git" in err and "clone" in err and rec.context is None
    assert list((tmp_path / "tmp").iterdir()) == []


def test_unknown_git_option_is_refused(tmp_path, repo):
    code, rec, err = run(["-c", f"git://{repo[0]}", "--git=depth=1"], tmp_path, env={"GIT_PULL_METHOD": "file"})
    assert code == 2 and "unknown option 'depth'" in err and rec.context is None


def test_https_tarball_and_git_over_http(tmp_path, repo, http_root):
    root, base = http_root
    make_tar(root / "ctx.tar.gz", {"Dockerfile": "FROM scratch\n# url\n", "a/b.txt": "b"})
    code, rec, err = run(["-c", f"{base}/ctx.tar.gz"], tmp_path)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# url\n", "a/b.txt": "b"}
    assert_cleaned(rec, tmp_path)
    code, rec, err = run(["-c", f"{base}/missing.tar.gz"], tmp_path)
    assert code == 1 and "HTTP 404" in err
    # BuildKit's git URL form: URL.git#ref:subdir, cloned over (dumb) HTTP.
    os.rename(repo[0], root / "repo.git")
    code, rec, err = run(["-c", f"{base}/repo.git#dev:app"], tmp_path)
    assert code == 0, err
    assert rec.files == {"Dockerfile": "FROM scratch\n# app\n"}
    assert_cleaned(rec, tmp_path)


def test_real_build_from_tar_stdin(tmp_path, busybox_layout):
    """The unpacked context feeds a real build (COPY reads it, RUN sees it), then vanishes."""
    ctx = make_tar(tmp_path / "ctx.tar", {
        "Dockerfile": f"FROM oci:{busybox_layout}:latest\nCOPY msg.txt /msg.txt\nRUN cat /msg.txt > /copy.txt\n",
        "msg.txt": "from stdin\n"}, gz=False)
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "layout"
    err = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=["-c", "tar://stdin", "--no-push",
                                                         f"--oci-layout-path={out}"]),
                         env={"CI": "true", "TMPDIR": str(tmp_path / "tmp"), "PATH": os.environ["PATH"]},
                         cwd=tmp_path, stdin=io.BytesIO(ctx.read_bytes()), stdout=io.StringIO(), stderr=err)
    assert code == 0, err.getvalue()
    assert list((tmp_path / "tmp").iterdir()) == []
    subprocess.run(["umoci", "unpack", "--image", f"{out}:latest", str(tmp_path / "bundle")], check=True,
                   capture_output=True)
    assert (tmp_path / "bundle/rootfs/copy.txt").read_text() == "from stdin\n"


def test_git_flag_options_reach_the_clone_options():
    from mason.cli.build_mapping import _context_git_options
    from mason.cli.kaniko_flags import parse_argv
    from mason.context import GitOptions

    parsed = parse_argv(["-c", "git://example.com/x.git", "--git=branch=b,insecure-skip-tls=true",
                         "--git", "single-branch=true"])
    assert _context_git_options(parsed) == GitOptions(branch="b", single_branch=True, insecure_skip_tls=True)
    assert GitOptions.parse(["insecure-skip-tls=true"]).insecure_skip_tls
