"""Every HTTPS fetch trusts the build's CAs: https contexts, ``--dockerfile https://``,
``ADD https://``, git over HTTPS (a real ``git http-backend`` behind TLS) and ``mason warm``.

The server on 127.0.0.1 has a CA of its own. With the CA in Kaniko's certs directory (GitLab's
recipe) or in ``SSL_CERT_FILE`` each fetch works; without, each fails with an error naming the
host and the CA files tried.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import uuid

import pytest

from mason.cli import build_cmd
from mason.cli.build_mapping import fetch_url
from mason.context import open_context
from mason.errors import BuildError, UsageError
from mason.fsops import AddOptions, SourceTree, add
from mason.tls import TlsTrust
from tests.support.images import push_layout
from tests.support.tlsserver import TlsServer

pytestmark = pytest.mark.integration

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": os.environ["PATH"], "HOME": "/tmp"}


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("tls-web")
    git_root = work / "git"
    repo = git_root / "app.git"
    src = work / "src"
    src.mkdir()
    (src / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    (src / "hello.txt").write_text("from git over https\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run(["git", *args], cwd=src, env=GIT_ENV, check=True, capture_output=True)
    git_root.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(repo)], env=GIT_ENV, check=True,
                   capture_output=True)
    files = {"/ctx.tar.gz": _tarball({"Dockerfile": b"FROM scratch\nCOPY a.txt /a.txt\n", "a.txt": b"ctx\n"}),
             "/Dockerfile": b"FROM scratch\nCOPY a.txt /a.txt\n",
             "/file.txt": b"downloaded\n"}
    web = TlsServer(str(work), files=files, git_root=str(git_root)).start()
    yield web
    web.stop()


@pytest.fixture
def kaniko_certs(tmp_path, server):
    """GitLab's recipe, into a Kaniko-style certs directory the test owns."""
    certs = tmp_path / "kaniko-ssl-certs"
    certs.mkdir()
    with open(certs / "additional-ca-cert-bundle.crt", "ab") as bundle, open(server.ca_file, "rb") as ca:
        bundle.write(ca.read())
    return certs


def _untrusted(message: str, server) -> None:
    assert f"TLS with {server.host} failed" in message, message
    assert "CA files tried: system" in message, message


def test_https_context(tmp_path, server, kaniko_certs):
    trust = TlsTrust.from_env({"MASON_KANIKO_CERTS_DIR": str(kaniko_certs)})
    ctx = open_context(server.url("/ctx.tar.gz"), str(tmp_path / "w"), tls=trust)
    assert open(os.path.join(ctx.root, "a.txt")).read() == "ctx\n"
    with pytest.raises(BuildError) as caught:
        open_context(server.url("/ctx.tar.gz"), str(tmp_path / "w2"), tls=TlsTrust.of())
    _untrusted(str(caught.value), server)


def test_dockerfile_url(server):
    trust = TlsTrust.from_env({"SSL_CERT_FILE": server.ca_file})
    assert fetch_url(server.url("/Dockerfile"), trust).startswith("FROM scratch")
    with pytest.raises(UsageError) as caught:
        fetch_url(server.url("/Dockerfile"), TlsTrust.of())
    _untrusted(str(caught.value), server)


def test_add_url(tmp_path, server):
    trust = TlsTrust.from_env({"SSL_CERT_FILE": server.ca_file})
    root = tmp_path / "root"
    root.mkdir()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (tmp_path / "work").mkdir()
    add(SourceTree(str(ctx)), [server.url("/file.txt")], str(root), "/f.txt", work_dir=str(tmp_path / "work"),
        options=AddOptions(), tls=trust)
    assert (root / "f.txt").read_text() == "downloaded\n"
    with pytest.raises(BuildError) as caught:
        add(SourceTree(str(ctx)), [server.url("/file.txt")], str(root), "/g.txt",
            work_dir=str(tmp_path / "work"), options=AddOptions(), tls=TlsTrust.of())
    _untrusted(str(caught.value), server)


def test_git_over_https(tmp_path, server, kaniko_certs):
    trust = TlsTrust.from_env({"MASON_KANIKO_CERTS_DIR": str(kaniko_certs)})
    url = server.url("/git/app.git#main")
    ctx = open_context(url, str(tmp_path / "w"), tls=trust)
    assert open(os.path.join(ctx.root, "hello.txt")).read() == "from git over https\n"
    assert not [p for p in os.listdir(tmp_path / "w") if p.startswith(".git-ca-")], "the CA bundle is left"
    with pytest.raises(BuildError) as caught:
        open_context(url, str(tmp_path / "w2"), tls=TlsTrust.of())
    _untrusted(str(caught.value), server)


def cli(tmp_path, argv, **env):
    out = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=argv),
                         env={"CI": "true", "PATH": os.environ["PATH"], "TMPDIR": str(tmp_path), **env},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=out, stderr=out)
    return code, out.getvalue()


def test_build_fetches_everything_through_the_kaniko_certs(tmp_path, server, kaniko_certs):
    """One ``mason build``: https context, --dockerfile https://, ADD https://, all trusted through
    Kaniko's certs directory; a git:// context over GIT_PULL_METHOD=https as well."""
    server.files["/Dockerfile.add"] = (f"FROM scratch\nCOPY a.txt /a.txt\nADD {server.url('/file.txt')} /f.txt\n"
                                       .encode())
    work = ["--work-dir", str(tmp_path / "work"), "--no-push", "--tar-path", str(tmp_path / "image.tar")]
    env = {"MASON_KANIKO_CERTS_DIR": str(kaniko_certs)}
    code, log = cli(tmp_path, ["--context", server.url("/ctx.tar.gz"),
                               "--dockerfile", server.url("/Dockerfile.add"), *work], **env)
    assert code == 0, log
    with tarfile.open(tmp_path / "image.tar") as image:
        names = image.getnames()
    assert "manifest.json" in names
    code, log = cli(tmp_path, ["--context", f"git://{server.host}/git/app.git#refs/heads/main", *work],
                    GIT_PULL_METHOD="https", **env)
    assert code == 0, log
    code, log = cli(tmp_path, ["--context", server.url("/ctx.tar.gz"), *work],
                    MASON_KANIKO_CERTS_DIR=str(tmp_path / "empty"))
    assert code != 0
    _untrusted(log, server)


def test_warm_trusts_the_kaniko_certs(tmp_path, registry_tls, busybox_layout):
    ref = f"{registry_tls.host}/trust/warm:{uuid.uuid4().hex[:8]}"
    push_layout(busybox_layout, ref, creds=f"{registry_tls.username}:{registry_tls.password}")
    certs = tmp_path / "kaniko-ssl-certs"
    certs.mkdir()
    (certs / "additional-ca-cert-bundle.crt").write_bytes(open(registry_tls.ca_file, "rb").read())
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CI": "true",
            "DOCKER_CONFIG": registry_tls.docker_config(str(tmp_path / "docker"))}

    def warm(**env):
        return subprocess.run([sys.executable, "-m", "mason", "warm", "-i", ref, "-c", str(tmp_path / "cache")],
                              env={**base, **env}, capture_output=True, text=True, timeout=120)

    denied = warm(MASON_KANIKO_CERTS_DIR=str(tmp_path / "none"))
    assert denied.returncode == 3, denied.stdout + denied.stderr
    _untrusted(denied.stdout + denied.stderr, registry_tls)
    done = warm(MASON_KANIKO_CERTS_DIR=str(certs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert any((tmp_path / "cache").iterdir())
