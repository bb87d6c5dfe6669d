"""What a merge request controls in the context cannot reach past the context: device nodes
(context files, ``ADD`` of a local tar, ``RUN --mount=type=bind``) follow the one device policy
and are refused at the instruction that brings them; a ``Dockerfile`` or ``.dockerignore`` that
is a symlink out of the context is refused without its target being read; ``.dockerignore``
applies to bind mounts of the context exactly as to COPY."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from tests.reliability.relhelpers import assert_no_traceback, make_tar, mason, member, text, work_dirs
from tests.reliability.test_rel_contexts import HOST_SECRET, _layers_bytes

pytestmark = pytest.mark.integration
KMSG = (1, 11)      # /dev/kmsg: reading it shows the host kernel log
NULL = (1, 3)


def _build(tmp_path, ctx, *extra):
    proc = mason("build", "--context", str(ctx), "--no-push", "--oci-layout-path", str(tmp_path / "out"),
                 "--work-dir", str(tmp_path / "work"), *extra)
    assert_no_traceback(proc)
    assert work_dirs(tmp_path / "work") == []
    return proc


def _context(tmp_path, dockerfile: str):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def _mknod(path, numbers, kind=stat.S_IFCHR):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, kind | 0o644, os.makedev(*numbers))


@pytest.mark.parametrize("step", ["COPY . /ctx", "COPY app /app", "COPY app/kmsg /kmsg", "ADD app /app",
                                  "RUN --mount=type=bind,target=/m head -c 64 /m/app/kmsg",
                                  "RUN --mount=type=bind,target=/m,rw head -c 64 /m/app/kmsg"])
def test_a_host_device_in_the_context_is_refused_at_its_line(tmp_path, busybox_layout, step):
    ctx = _context(tmp_path, f"FROM oci:{busybox_layout}\n{step}\nRUN head -c 64 /kmsg /ctx/app/kmsg /app/kmsg\n")
    _mknod(ctx / "app" / "kmsg", KMSG)
    proc = _build(tmp_path, ctx)
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    assert "Dockerfile:2" in out and "kmsg" in out and "device 1:11" in out, out[-2000:]


@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK], ids=["char", "block"])
def test_add_of_a_local_tar_with_a_host_device_is_refused_at_its_line(tmp_path, busybox_layout, kind):
    ctx = _context(tmp_path, f"FROM oci:{busybox_layout}\nADD dev.tar /\nRUN head -c 64 /kmsg\n")
    info, _ = member("kmsg", tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE,
                     devmajor=KMSG[0] if kind == stat.S_IFCHR else 8, devminor=KMSG[1] if kind == stat.S_IFCHR else 0)
    (ctx / "dev.tar").write_bytes(make_tar([(info, b"")]))
    proc = _build(tmp_path, ctx)
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    assert "Dockerfile:2" in out and "'kmsg'" in out and "device" in out and "not allowed" in out, out[-2000:]


def test_safe_device_nodes_are_copied_everywhere(tmp_path, busybox_layout):
    """The same set a base layer may carry: null, zero, … are kept by COPY and ADD."""
    ctx = _context(tmp_path, f"FROM oci:{busybox_layout}\nCOPY app /app\nADD dev.tar /tar/\n"
                             "RUN test -c /app/null && test -c /tar/null\n")
    _mknod(ctx / "app" / "null", NULL)
    info, _ = member("null", tarfile.CHRTYPE, devmajor=1, devminor=3)
    (ctx / "dev.tar").write_bytes(make_tar([(info, b"")]))
    proc = _build(tmp_path, ctx)
    assert proc.returncode == 0, text(proc)[-2000:]


# --- control files that are symlinks out of the context ------------------------------------
@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "shadow").write_text(f"root:{HOST_SECRET.decode()}:19000:0:99999:7:::\n")
    (d / "Dockerfile").write_text("FROM scratch\nLABEL built=from-outside\n")
    return d


@pytest.mark.parametrize("target", ["shadow", "Dockerfile"])
@pytest.mark.parametrize("how", ["absolute", "relative", "via-dir"])
def test_a_dockerfile_symlinked_out_of_the_context_is_refused(tmp_path, outside, target, how):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    args = []
    if how == "absolute":
        os.symlink(outside / target, ctx / "Dockerfile")
    elif how == "relative":
        os.symlink(f"../outside/{target}", ctx / "Dockerfile")
    else:
        os.symlink(str(outside), ctx / "sub")
        args = ["--dockerfile", str(ctx / "sub" / target)]
    proc = _build(tmp_path, ctx, *args)
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    assert "leaves the build context" in out, out[-2000:]
    assert HOST_SECRET.decode() not in out and "from-outside" not in out
    assert not (tmp_path / "out").exists()


def test_a_dockerignore_symlinked_out_of_the_context_is_refused(tmp_path, busybox_layout, outside):
    (outside / "config.json").write_text('{"auths":{"r":{"auth":"' + HOST_SECRET.decode() + '"}}}')
    ctx = _context(tmp_path, f"FROM oci:{busybox_layout}\nCOPY . /x\n")
    os.symlink(outside / "config.json", ctx / ".dockerignore")
    proc = _build(tmp_path, ctx)
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    assert ".dockerignore" in out and "leaves the build context" in out, out[-2000:]
    assert HOST_SECRET.decode() not in out


def test_symlinks_inside_the_context_still_work(tmp_path, busybox_layout):
    ctx = _context(tmp_path, "")
    (ctx / "docker").mkdir()
    (ctx / "docker" / "app.Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY . /x\n")
    (ctx / "Dockerfile").unlink()
    os.symlink("docker/app.Dockerfile", ctx / "Dockerfile")
    (ctx / "ignore").write_text("secret\n")
    os.symlink("ignore", ctx / ".dockerignore")
    (ctx / "secret").write_bytes(HOST_SECRET)
    proc = _build(tmp_path, ctx)
    assert proc.returncode == 0, text(proc)[-2000:]
    assert HOST_SECRET not in _layers_bytes(tmp_path / "out")


# --- .dockerignore and RUN --mount=type=bind ------------------------------------------------
@pytest.mark.parametrize("mount", ["target=/m", "target=/m,rw", "source=keys,target=/m/keys",
                                   "source=.,target=/m,readonly"])
def test_dockerignore_applies_to_bind_mounts_of_the_context(tmp_path, busybox_layout, mount):
    ctx = _context(tmp_path, f"FROM oci:{busybox_layout}\n"
                             f"RUN --mount=type=bind,{mount} cat /m/keys/*.pem /m/.en? > /seen 2>&1; "
                             "ls -a /m /m/keys > /listing; test -f /m/keys/app.pub\n")
    (ctx / "keys").mkdir()
    (ctx / "keys" / "id.pem").write_bytes(HOST_SECRET + b"-pem")
    (ctx / "keys" / "app.pub").write_text("public\n")
    (ctx / ".env").write_bytes(HOST_SECRET + b"-env")
    (ctx / ".dockerignore").write_text("**/*.pem\n.env\n")
    proc = _build(tmp_path, ctx)
    assert proc.returncode == 0, text(proc)[-2000:]
    data = _layers_bytes(tmp_path / "out")
    assert b"app.pub" in data                      # the mount was there
    assert HOST_SECRET not in data
    assert b"id.pem" not in data and b".env\n" not in data


def test_binding_an_ignored_file_is_not_found(tmp_path, busybox_layout):
    ctx = _context(tmp_path, f"FROM oci:{busybox_layout}\nRUN --mount=type=bind,source=.env,target=/e cat /e\n")
    (ctx / ".env").write_bytes(HOST_SECRET)
    (ctx / ".dockerignore").write_text(".env\n")
    proc = _build(tmp_path, ctx)
    out = text(proc)
    assert proc.returncode == 1, out[-2000:]
    assert "Dockerfile:2" in out and ".env" in out and "not found" in out, out[-2000:]
    assert HOST_SECRET.decode() not in out
