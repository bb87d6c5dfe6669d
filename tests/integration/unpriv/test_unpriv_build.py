"""``mason build`` in the simulated unprivileged container gives the privileged mode's image.

The same Dockerfile is built three ways with ``--reproducible``: in the harness (detected
isolation: chroot + stat walker), outside it (namespaces + overlay) and outside with
``--isolation=chroot`` forced; the digests must be equal, and the unprivileged image's tree is
checked with umoci (an independent reader).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.executor.buildhelpers import tree, unpack, write_context
from tests.support.unpriv import SRC, run_unprivileged

pytestmark = pytest.mark.integration

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE
FROM ${BASE} AS base
COPY hosts /etc/hosts
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group \\
    && mkdir -p /home/app && chown app:app /home/app

FROM base AS build
WORKDIR /src
COPY --chown=app:app src/ ./
RUN mkdir -p /out && chown app /out && cp /etc/hosts /out/hosts-seen && echo x > /dev/scratch \\
    && mkdir /dev/shm/sub && head -c 8 /dev/urandom > /dev/null
USER app
WORKDIR /out/w
RUN <<EOF
echo "heredoc as $(id -un) $(id -u):$(id -g)" > /out/w/who
ln -s who /out/w/link
echo h > /out/w/hard1 && ln /out/w/hard1 /out/w/hard2
EOF
RUN <<EOF
#!/bin/sh
echo "shebang in $(pwd)" > /out/w/shebang
EOF
USER root
RUN chmod 4755 /out/w/who && rm /bin/vi && rm -r /src/sub

FROM base
COPY --from=build --chown=app /out /out
COPY --from=build /src /src
RUN cat /etc/hosts > /hosts-in-final && id app > /id && touch /etc/marker
USER app
WORKDIR /home/app
CMD ["sh"]
"""

FILES = {"hosts": "10.0.0.1 image-host\n", "src/a.txt": "a\n", "src/sub/b.txt": "b\n"}


def _env():
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("TMPDIR", None)
    return env


def _argv(ctx, out, work, base, *extra):
    return [sys.executable, "-m", "mason", "build", "--context", str(ctx), "--no-push", "--reproducible",
            "--oci-layout-path", str(out), "--work-dir", str(work), "--build-arg", f"BASE={base}", *extra]


def _digest(stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if "image: sha256:" in line)
    return line.split("image: ")[1].split()[0]


def _isolation(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if "isolation: " in line).split("isolation: ", 1)[1]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, busybox_layout):
    """(tmp, {(mode, target): (digest, isolation line)}) for every mode and both targets."""
    tmp = tmp_path_factory.mktemp("unpriv-build")
    ctx = write_context(tmp / "ctx", DOCKERFILE, FILES)
    base = f"oci:{busybox_layout}:latest"
    out = {}
    for target in ("final", "build"):
        extra = ("--target", "build") if target == "build" else ()
        res = run_unprivileged(_argv(ctx, tmp / f"unpriv-{target}", tmp / "work-unpriv", base, *extra),
                               env=_env(), timeout=120)
        assert res.returncode == 0, res.stderr
        out["unpriv", target] = _digest(res.stderr), _isolation(res.stderr)
        for mode, flags in (("priv", ()), ("forced", ("--isolation=chroot",))):
            res = subprocess.run(_argv(ctx, tmp / f"{mode}-{target}", tmp / f"work-{mode}", base, *extra, *flags),
                                 env=_env(), capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stderr
            out[mode, target] = _digest(res.stderr), _isolation(res.stderr)
    return tmp, out


def test_modes_are_the_ones_claimed(builds):
    _, out = builds
    assert out["unpriv", "final"][1].startswith("chroot (no new namespaces (")
    assert "RUN gets no /proc" in out["unpriv", "final"][1] and out["unpriv", "final"][1].endswith("snapshots: walk")
    assert out["priv", "final"][1].startswith("namespaces (") and out["priv", "final"][1].endswith("snapshots: overlay")
    assert out["forced", "final"][1].startswith("chroot (forced by --isolation=chroot (detected: namespaces)")
    assert out["forced", "final"][1].endswith("snapshots: walk")


@pytest.mark.parametrize("target", ["final", "build"])
def test_unprivileged_image_equals_privileged(builds, target):
    _, out = builds
    assert out["unpriv", target][0] == out["priv", target][0] == out["forced", target][0]


def test_unprivileged_image_content(builds):
    tmp, _ = builds
    root = unpack(tmp / "unpriv-final", tmp / "unpacked-final")
    assert tree(root, "out") == {
        "out/w": "<dir>", "out/hosts-seen": "127.0.0.1\tlocalhost mason\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "out/w/who": "heredoc as app 1234:1234\n", "out/w/link": "-> who", "out/w/hard1": "h\n",
        "out/w/hard2": "h\n", "out/w/shebang": "shebang in /out/w\n"}
    assert os.stat(root / "out/w/hard1").st_ino == os.stat(root / "out/w/hard2").st_ino
    assert {os.stat(root / p).st_uid for p in ("out", "out/w", "out/w/who")} == {1234}
    assert os.stat(root / "out/w/who").st_mode & 0o7777 == 0o4755
    assert tree(root, "src") == {"src/a.txt": "a\n"}
    assert (root / "etc/hosts").read_text() == FILES["hosts"]            # restored after every RUN
    assert (root / "hosts-in-final").read_text().startswith("127.0.0.1\tlocalhost mason\n")
    assert (root / "id").read_text().startswith("uid=1234(app) gid=1234(app)")
    assert not (root / "etc/resolv.conf").exists()                       # written for RUNs only
    assert not (root / "dev").exists() and not (root / "proc").exists()  # /dev writes discarded


def test_work_dirs_are_removed(builds):
    tmp, _ = builds
    for mode in ("unpriv", "priv", "forced"):
        assert list((tmp / f"work-{mode}").iterdir()) == []
