"""A Dockerfile using every instruction and form; expectations from the Dockerfile reference."""

from __future__ import annotations

import gzip
import os
import tarfile

import pytest

from mason.executor.options import SecretSource
from tests.integration.executor.buildhelpers import build, config_of, tree, unpack, write_context

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE
FROM ${BASE} AS tools
ARG GREETING=hello
RUN echo "$GREETING" > /greeting && echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group
RUN <<EOF
mkdir -p /made
echo "from heredoc" > /made/by-heredoc
EOF
RUN <<-EOF sh
\techo tabs-stripped > /made/chomped
\tEOF

FROM tools AS final
LABEL org.example.name="demo" other=value
ENV APP_HOME=/srv/app PATH=/srv/app/bin:$PATH
WORKDIR $APP_HOME
COPY --chown=app:app src/ ./src/
COPY --chmod=750 run.sh /usr/local/bin/
COPY <<EOF /etc/motd
welcome to $APP_HOME
EOF
ADD archive.tar /unpacked/
COPY --from=tools /greeting /copied-greeting
RUN --mount=type=secret,id=token,required=true cat /run/secrets/token | wc -c > /secret-length
RUN --mount=type=tmpfs,target=/scratch touch /scratch/gone
RUN --mount=type=bind,source=src,target=/ctx cp /ctx/a.txt /from-bind
EXPOSE 8080 53/udp
VOLUME ["/data"]
USER app
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD wget -q -O- http://localhost:8080/ || exit 1
STOPSIGNAL SIGTERM
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["--serve"]
ONBUILD RUN echo child
"""

SECRET = b"s3cr3t-value"


@pytest.fixture(scope="module")
def built(tmp_path_factory, busybox_layout):
    tmp = tmp_path_factory.mktemp("every")
    ctx = write_context(tmp / "ctx", DOCKERFILE, {
        "src/a.txt": "a\n", "src/sub/b.txt": "b\n", "run.sh": "#!/bin/sh\necho run\n",
        "ignored.txt": "must not be copied", ".dockerignore": "ignored.txt\n"})
    with tarfile.open(ctx / "archive.tar", "w") as tar:
        tar.add(ctx / "src" / "a.txt", arcname="inside/a.txt")
    result, events = build(ctx, tmp / "out", tmp / "work", reproducible=True,
                           build_args={"BASE": f"oci:{busybox_layout}:latest"},
                           secrets=(SecretSource("token", SECRET),))
    return tmp, result, events


def test_filesystem(built):
    tmp, result, _ = built
    root = unpack(tmp / "out", tmp / "unpacked")
    assert (root / "greeting").read_text() == "hello\n"
    assert (root / "made/by-heredoc").read_text() == "from heredoc\n"
    assert (root / "made/chomped").read_text() == "tabs-stripped\n"
    assert tree(root, "srv/app/src") == {"srv/app/src/a.txt": "a\n", "srv/app/src/sub": "<dir>",
                                         "srv/app/src/sub/b.txt": "b\n"}
    st = os.stat(root / "srv/app/src/a.txt")
    assert (st.st_uid, st.st_gid) == (1234, 1234)
    assert oct(os.stat(root / "usr/local/bin/run.sh").st_mode & 0o7777) == oct(0o750)
    assert (root / "etc/motd").read_text() == "welcome to /srv/app\n"
    assert (root / "unpacked/inside/a.txt").read_text() == "a\n"
    assert (root / "copied-greeting").read_text() == "hello\n"
    assert (root / "secret-length").read_text().strip() == str(len(SECRET))
    assert not (root / "run/secrets/token").exists()
    assert not (root / "scratch/gone").exists()
    assert (root / "from-bind").read_text() == "a\n"
    assert not (root / "ctx/a.txt").exists()
    assert not (root / "data").exists()  # VOLUME does not create the directory (BuildKit)
    assert not (root / "srv/app/ignored.txt").exists()


def test_secret_value_in_no_layer(built):
    tmp, _, _ = built
    for blob in (tmp / "out" / "blobs" / "sha256").iterdir():
        data = blob.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert SECRET not in data, blob.name


def test_config(built):
    tmp, _, _ = built
    cfg = config_of(tmp / "out")
    c = cfg["config"]
    assert c["Labels"] == {"org.example.name": "demo", "other": "value"}
    env = dict(e.split("=", 1) for e in c["Env"])
    assert env["APP_HOME"] == "/srv/app"
    assert env["PATH"].startswith("/srv/app/bin:") and env["PATH"].endswith(":/bin")  # base PATH after
    assert c["WorkingDir"] == "/srv/app"
    assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}}
    assert c["User"] == "app"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- http://localhost:8080/ || exit 1"],
                                "Interval": 30_000_000_000, "Timeout": 5_000_000_000, "Retries": 3}
    assert c["StopSignal"] == "SIGTERM"
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert c["Entrypoint"] == ["/usr/local/bin/run.sh"]
    assert c["Cmd"] == ["--serve"]
    assert c["OnBuild"] == ["RUN echo child"]
    assert cfg["created"] == "1970-01-01T00:00:00Z"
    layers = [h for h in cfg["history"] if not h.get("empty_layer")]
    assert len(layers) == len(cfg["rootfs"]["diff_ids"])
    assert any(h["created_by"].startswith("ENV APP_HOME") and h.get("empty_layer") for h in cfg["history"])
    assert not any(SECRET.decode() in h["created_by"] for h in cfg["history"])


def test_entrypoint_clears_inherited_cmd(tmp_path, busybox_layout):
    base = f"oci:{busybox_layout}:latest"
    ctx = write_context(tmp_path / "ctx", f"FROM {base} AS a\nCMD [\"x\"]\nFROM a\nENTRYPOINT [\"y\"]\n")
    build(ctx, tmp_path / "out", tmp_path / "work")
    c = config_of(tmp_path / "out")["config"]
    assert c["Entrypoint"] == ["y"] and "Cmd" not in c


def test_overlay_and_walk_give_identical_digests(tmp_path, busybox_layout):
    base = f"oci:{busybox_layout}:latest"
    dockerfile = (f"FROM {base} AS b\nRUN mkdir -p /o/sub && echo 1 > /o/f && echo s > /o/sub/s && ln -s f /o/l && rm /bin/vi\n"
                  f"COPY . /ctx/\nWORKDIR /w\nRUN echo 2 >> /o/f && rm -r /o/sub && mkdir /o/sub\n"
                  f"FROM {base}\nCOPY --from=b /o /o\nCOPY --link x.txt /linked/\n")
    ctx = write_context(tmp_path / "ctx", dockerfile, {"x.txt": "x\n", "d/y.txt": "y\n"})
    r1, _ = build(ctx, tmp_path / "ov", tmp_path / "w1", reproducible=True, snapshot_mode="overlay")
    r2, _ = build(ctx, tmp_path / "wk", tmp_path / "w2", reproducible=True, snapshot_mode="walk")
    assert r1.image_digest == r2.image_digest


def test_from_platform_selects_that_platform(tmp_path, multiplatform_layout):
    """FROM --platform is acted upon: the base for that platform, not the build's."""
    base = f"oci:{multiplatform_layout}:latest"
    ctx = write_context(tmp_path / "ctx", f"FROM --platform=linux/arm64 {base} AS a\nLABEL stage=a\n"
                                          f"FROM {base}\nCOPY --from=a /bin/busybox /busybox-arm64\n")
    build(ctx, tmp_path / "out", tmp_path / "work", target="a")
    assert config_of(tmp_path / "out")["architecture"] == "arm64"
    build(ctx, tmp_path / "out2", tmp_path / "work")
    assert config_of(tmp_path / "out2")["architecture"] == "amd64"
    root = unpack(tmp_path / "out2", tmp_path / "unpacked")
    assert (root / "busybox-arm64").is_file()


def test_ignore_var_run_and_ignore_path(tmp_path, busybox_layout):
    """Kaniko's --ignore-var-run (default true) and --ignore-path keep paths out of layers."""
    ctx = write_context(tmp_path / "ctx", f"FROM oci:{busybox_layout}:latest\n"
                                          "RUN mkdir -p /var/run /cache && touch /var/run/app.pid /cache/x /kept\n")
    build(ctx, tmp_path / "out", tmp_path / "work", ignore_paths=("/cache",))
    root = unpack(tmp_path / "out", tmp_path / "u1")
    assert (root / "kept").exists()
    assert not (root / "var/run/app.pid").exists() and not (root / "cache").exists()
    build(ctx, tmp_path / "out2", tmp_path / "work", ignore_var_run=False)
    root = unpack(tmp_path / "out2", tmp_path / "u2")
    assert (root / "var/run/app.pid").exists() and (root / "cache/x").exists()
