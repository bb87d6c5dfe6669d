"""mason builds its own image from the repository's Dockerfile, and the image works on its own.

The image is built by this checkout's mason on a debootstrapped Debian base, offline
(tests/support/masonimage.py). Checked here, on the unpacked image (umoci):

* the layout pipelines rely on (Kaniko's paths and variables), FROM scratch with everything
  under /kaniko, and every program's loader and libraries inside /kaniko (patchelf reads them);
* the default (shell-less) image run as a container: ``/kaniko/executor version``,
  ``/kaniko/warmer``, and real builds inside it (RUN, ``FROM <stage>``, a git context), with
  everything outside /kaniko replaced by traps — broken libc, libarchive, Python and a
  ``cp`` that fails — which mason must never load or run.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support.unpriv import run_in_container

pytestmark = pytest.mark.integration

LOADER = "/kaniko/lib/ld-linux-x86-64.so.2"
KANIKO_ENV = {"PATH": "/usr/local/bin:/kaniko", "HOME": "/root", "USER": "root",
              "SSL_CERT_DIR": "/kaniko/ssl/certs", "DOCKER_CONFIG": "/kaniko/.docker/"}


def _elf_files(root: Path) -> list[Path]:
    found = []
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        found.append(path)
    return found


def _patchelf(*args: str) -> str:
    return subprocess.run(["patchelf", *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def executor_bundle(mason_image, tmp_path_factory):
    return mason_image(None).unpack(tmp_path_factory.mktemp("executor") / "bundle")


def test_image_is_kaniko_shaped_and_self_contained(executor_bundle):
    root = executor_bundle.rootfs
    assert sorted(os.listdir(root)) == ["etc", "kaniko", "root", "run", "tmp", "workspace"]   # FROM scratch
    assert sorted(os.listdir(root / "etc")) == ["nsswitch.conf"]
    assert os.stat(root / "tmp").st_mode & 0o7777 == 0o1777
    for name in ("executor", "warmer"):
        launcher = root / "kaniko" / name
        assert os.stat(launcher).st_mode & 0o777 == 0o755
        assert launcher.read_text().startswith("#!/kaniko/bin/python3 -IS\n")
    assert (root / "kaniko/.docker").is_dir() and not any((root / "kaniko/.docker").iterdir())
    assert os.stat(root / "kaniko/.docker").st_mode & 0o7777 == 0o1777
    assert "BEGIN CERTIFICATE" in (root / "kaniko/ssl/certs/ca-certificates.crt").read_text()
    assert (root / "kaniko/ssl/openssl.cnf").is_file()
    site = root / "kaniko/lib/python3.11/site-packages"
    for package in ("mason/cli/main.py", "requests/__init__.py", "libarchive/__init__.py", "zstandard/__init__.py"):
        assert (site / package).is_file(), package
    assert not (site / "pip").exists() and not (root / "mason-src").exists()
    assert not list(root.rglob("tests/support")) and not list(root.rglob("*.whl"))

    spec = executor_bundle.spec()
    env = executor_bundle.env()
    assert {k: env[k] for k in KANIKO_ENV} == KANIKO_ENV
    assert spec["process"]["cwd"] == "/workspace" and spec["process"]["args"] == ["/kaniko/executor"]

    # Every program uses the bundled loader, and every library any ELF file needs is bundled.
    libs = {p.name for p in (root / "kaniko/lib").iterdir()}
    elfs = _elf_files(root)
    programs = [p for p in elfs if p.parent.name in ("bin", "git-core")]
    assert {p.name for p in programs} == {"python3", "git", "cp", "mkfs.ext4", "mount", "slirp4netns", "git-remote-http"}
    for program in programs:
        assert _patchelf("--print-interpreter", str(program)) == LOADER, program
        assert _patchelf("--print-rpath", str(program)) == "/kaniko/lib", program
    for elf in elfs:
        for needed in _patchelf("--print-needed", str(elf)).split():
            assert needed in libs, f"{elf.relative_to(root)} needs {needed}, not in /kaniko/lib"


def _trap_outside_kaniko(root: Path) -> None:
    """What a build that extracts a base image over ``/`` could leave: broken copies of what
    mason loads, at the paths a normal program would find them."""
    for lib in ("lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6",
                "usr/lib/x86_64-linux-gnu/libarchive.so.13", "lib64/ld-linux-x86-64.so.2"):
        (root / lib).parent.mkdir(parents=True, exist_ok=True)
        (root / lib).write_bytes(b"\x7fELF broken")
    (root / "usr/lib/python3.11").mkdir(parents=True)
    (root / "usr/lib/python3.11/os.py").write_text("raise SystemExit('the image python ran /usr/lib/python3.11')\n")
    (root / "etc/ld.so.cache").write_bytes(b"garbage")
    for tool in ("cp", "git"):
        trap = root / "usr/local/bin" / tool
        trap.parent.mkdir(parents=True, exist_ok=True)
        trap.write_text("#!/kaniko/bin/python3 -IS\nimport sys\nsys.exit(f'trap: {sys.argv[0]} ran')\n")
        trap.chmod(0o755)


def _git(*args: str, cwd: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@contextlib.contextmanager
def _http_server(directory: Path):
    """A static file server on 127.0.0.1 (the container shares this network namespace)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_executor_image_builds_without_a_shell(executor_bundle, busybox_layout, tmp_path):
    root = executor_bundle.rootfs
    assert not (root / "bin").exists() and not (root / "busybox").exists()     # no shell anywhere
    _trap_outside_kaniko(root)
    env = executor_bundle.env()

    version = run_in_container(root, ["/kaniko/executor", "version"], env=env)
    assert (version.returncode, version.stdout.strip()) == (0, "mason 0.1.0"), version.stderr
    warmer = run_in_container(root, ["/kaniko/warmer", "--help"], env=env)
    assert warmer.returncode == 0 and "--cache-dir" in warmer.stdout and "warm" in warmer.stdout, warmer.stderr

    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text(
        "FROM oci:/images/busybox:latest AS base\nRUN echo base > /base.txt\n"
        "FROM base\nRUN cat /base.txt > /app.txt && echo app >> /app.txt\n")
    out = tmp_path / "out"
    out.mkdir()
    binds = [(str(project), "/workspace"), (busybox_layout, "/images/busybox"), (str(out), "/out")]
    res = run_in_container(root, ["/kaniko/executor", "--no-push", "--oci-layout-path=/out/app"], env=env,
                           cwd="/workspace", binds=binds, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "isolation: chroot" in res.stderr          # what an unprivileged container allows
    subprocess.run(["umoci", "unpack", "--image", f"{out}/app:latest", str(tmp_path / "app")], check=True,
                   capture_output=True)
    assert (tmp_path / "app/rootfs/app.txt").read_text() == "base\napp\n"

    # A git context over HTTP: the bundled git, its HTTP helper (libcurl and all) and templates.
    # (file:// needs a shell: git starts upload-pack with `sh -c`; the debug image has one.)
    repo = tmp_path / "work"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "Dockerfile").write_text("FROM oci:/images/busybox:latest\nCOPY hello.txt /hello.txt\n")
    (repo / "hello.txt").write_text("from git\n")
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "one", cwd=repo)
    (tmp_path / "www").mkdir()
    _git("clone", "-q", "--bare", str(repo), str(tmp_path / "www/repo.git"), cwd=tmp_path)
    _git("update-server-info", cwd=tmp_path / "www/repo.git")      # git's dumb HTTP protocol
    with _http_server(tmp_path / "www") as host:
        res = run_in_container(root, ["/kaniko/executor", f"--context=git://{host}/repo.git#refs/heads/main",
                                      "--no-push", "--oci-layout-path=/out/git"],
                               env={**env, "GIT_PULL_METHOD": "http"}, binds=binds, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "templates not found" not in res.stderr
    subprocess.run(["umoci", "unpack", "--image", f"{out}/git:latest", str(tmp_path / "git")], check=True,
                   capture_output=True)
    assert (tmp_path / "git/rootfs/hello.txt").read_text() == "from git\n"


def test_executor_image_reads_utf8_path_names_in_layers(executor_bundle, busybox_layout, tmp_path):
    """A base layer with UTF-8 names is read in the image's own locale, not the ASCII "C" one."""
    root = executor_bundle.rootfs
    env = executor_bundle.env()
    project = tmp_path / "project"
    project.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    binds = [(str(project), "/workspace"), (busybox_layout, "/images/busybox"), (str(out), "/out")]
    (project / "Dockerfile").write_text("FROM oci:/images/busybox:latest\nRUN touch /h\u00e9llo-\u00fc.txt\n",
                                        encoding="utf-8")
    first = run_in_container(root, ["/kaniko/executor", "--no-push", "--oci-layout-path=/out/names"], env=env,
                             cwd="/workspace", binds=binds, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    (project / "Dockerfile").write_text("FROM oci:/out/names:latest\nRUN test -f /h\u00e9llo-\u00fc.txt && touch /seen\n", encoding="utf-8")
    second = run_in_container(root, ["/kaniko/executor", "--no-push", "--oci-layout-path=/out/listed"], env=env,
                              cwd="/workspace", binds=binds, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "converted" not in second.stderr, second.stderr
    subprocess.run(["umoci", "unpack", "--image", f"{out}/listed:latest", str(tmp_path / "listed")], check=True,
                   capture_output=True)
    listed = tmp_path / "listed/rootfs"
    assert (listed / "h\u00e9llo-\u00fc.txt").exists()
    assert (listed / "seen").exists()            # the RUN found the name as written


def test_executor_image_in_a_privileged_container_uses_its_own_tools(mason_image, busybox_layout, tmp_path):
    """docker run --privileged (or a privileged pod): RUN in namespaces, and the per-build ext4
    scratch filesystem made by the image's own mkfs.ext4 and mounted by its own mount."""
    bundle = mason_image(None).unpack(tmp_path / "bundle")
    _trap_outside_kaniko(bundle.rootfs)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM oci:/images/busybox:latest\nRUN echo privileged > /p.txt\n")
    out = tmp_path / "out"
    out.mkdir()
    res = run_in_container(bundle.rootfs, ["/kaniko/executor", "--no-push", "--oci-layout-path=/out/p"],
                           env=bundle.env(), cwd="/workspace", privileged=True, timeout=300,
                           binds=[(str(project), "/workspace"), (busybox_layout, "/images/busybox"),
                                  (str(out), "/out")])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "isolation: namespaces" in res.stderr
    scratch = next(line for line in res.stderr.splitlines() if "work files:" in line)
    if os.path.exists("/dev/loop-control"):           # the host has loop devices: so has the container
        assert "own ext4 scratch filesystem" in scratch, scratch
    subprocess.run(["umoci", "unpack", "--image", f"{out}/p:latest", str(tmp_path / "p")], check=True,
                   capture_output=True)
    assert (tmp_path / "p/rootfs/p.txt").read_text() == "privileged\n"
