"""What a conformance case serves to the build: files over HTTP and a git repository.

BuildKit's tests start ``httpserver.NewTestServer`` (fixed responses with ETag and
Last-Modified) and ``http.FileServer`` on a git work tree after ``git update-server-info``
(git's "dumb" HTTP protocol). Both become one server here, on 127.0.0.1 at a free port:

``serve``   path -> text, or a mapping with ``content`` or ``tar`` (name -> text, a tar
            archive), and headers ``etag``, ``last_modified`` (seconds since the epoch),
            ``content_disposition``, ``content_type``
``git``     commits, oldest first: each ``files`` (path -> text), ``message``, and ``tag``
            / ``branch`` (a tag or branch made at that commit); the repository's work tree
            is served, so ``{http}/.git`` is its URL, as in BuildKit's tests

``{http}`` in the case's texts becomes the server's URL. Requests are logged (method, path,
If-None-Match) so a case can check that a second build asked again.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading
from email.utils import formatdate
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def tar_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.size = 0o600, 1_600_000_000, len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_git_repo(root: Path, commits: list) -> None:
    """A repository at ``root`` with the case's commits, tags and branches (fixed author and
    dates, so a commit hash is the same on every run), prepared for dumb HTTP."""
    root.mkdir(parents=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root.parent),
           "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test", "GIT_COMMITTER_NAME": "test",
           "GIT_COMMITTER_EMAIL": "test", "GIT_AUTHOR_DATE": "1600000000 +0000",
           "GIT_COMMITTER_DATE": "1600000000 +0000", "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "master")
    for n, commit in enumerate(commits):
        for name, text in (commit.get("files") or {}).items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            git("add", name)
        git("commit", "-q", "--allow-empty", "-m", commit.get("message", f"commit {n}"))
        if commit.get("tag"):
            git("tag", commit["tag"])
        if commit.get("branch"):
            git("branch", commit["branch"])
    git("update-server-info")


class _Handler(SimpleHTTPRequestHandler):
    """Fixed responses first (``serve``), else files under the served directory."""

    def __init__(self, *args, responses: dict, log: list, **kw):
        self.responses, self.request_log = responses, log
        super().__init__(*args, **kw)

    def do_GET(self):   # noqa: N802 (http.server's naming)
        self.request_log.append(("GET", self.path, self.headers.get("If-None-Match")))
        spec = self.responses.get(self.path.split("?", 1)[0])
        if spec is None:
            return super().do_GET()
        if spec.get("etag") and self.headers.get("If-None-Match") == f'"{spec["etag"]}"':
            self.send_response(304)
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Length", str(len(spec["body"])))
        self.send_header("Content-Type", spec.get("content_type", "application/octet-stream"))
        if spec.get("etag"):
            self.send_header("ETag", f'"{spec["etag"]}"')
        if spec.get("last_modified") is not None:
            self.send_header("Last-Modified", formatdate(spec["last_modified"], usegmt=True))
        if spec.get("content_disposition"):
            self.send_header("Content-Disposition", spec["content_disposition"])
        self.end_headers()
        self.wfile.write(spec["body"])
        return None

    def log_message(self, *args):   # keep pytest's output clean
        pass


class CaseServer:
    """The case's HTTP server (started by ``start``, stopped by ``stop``)."""

    def __init__(self, case: dict, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        if case.get("git"):
            make_git_repo(root / "repo", case["git"])
            self.root = root / "repo"
        self.responses = {}
        for path, spec in (case.get("serve") or {}).items():
            spec = {"content": spec} if isinstance(spec, str) else dict(spec)
            spec["body"] = tar_bytes(spec["tar"]) if "tar" in spec else spec.get("content", "").encode()
            self.responses[path] = spec
        self.requests: list = []
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> "CaseServer":
        handler = partial(_Handler, responses=self.responses, log=self.requests, directory=str(self.root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
