"""Credentials and secrets never leak: builds with each auth mode (basic over TLS, token, GitLab's
CI_REGISTRY_* variables) at ``-v trace``, then every byte mason produced is searched: its output,
the ``--metadata-file``, and the pushed image (manifest, config with history and labels, every
layer uncompressed). Also: ``RUN --mount=type=secret`` values, the host's resolv.conf/hosts and
the work dir path never reach the image; secret-looking build-args and ARG/ENV names warn."""

from __future__ import annotations

import base64
import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.reliability.relhelpers import assert_no_traceback, cli_env, mason, text
from tests.support.images import push_layout
from tests.support.registry import DEFAULT_PASSWORD, DEFAULT_USER

pytestmark = pytest.mark.integration
SECRET_VALUE = "s3cr3t-mount-value-8c1f"
ARG_VALUE = "argvalue-do-not-leak-5d2e"
JWT_PREFIX = "eyJ0eXAi"   # base64url of '{"typ' : every token the test issuer signs starts with it


def _image_bytes(ref: str, creds: str, dest: Path) -> tuple[bytes, list[tarfile.TarInfo]]:
    """Manifest + config + every layer (uncompressed) of the pushed image, and the layer entries."""
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", creds,
                    f"docker://{ref}", f"dir:{dest}"], check=True, capture_output=True)
    manifest = json.loads((dest / "manifest.json").read_text())
    blobs = [(dest / "manifest.json").read_bytes(), (dest / manifest["config"]["digest"].split(":")[1]).read_bytes()]
    members = []
    for layer in manifest["layers"]:
        data = (dest / layer["digest"].split(":")[1]).read_bytes()
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        blobs.append(raw)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            members += tf.getmembers()
    return b"\n".join(blobs), members


def _forbidden(user: str, password: str) -> list[str]:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [password, auth, f"Basic {auth}", JWT_PREFIX, SECRET_VALUE]


def _build(tmp_path: Path, host: str, env: dict, extra: list[str]):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {host}/sec/base\n"
        "ARG API_TOKEN\n"
        "RUN --mount=type=secret,id=tok sh -c 'wc -c < /run/secrets/tok > /secret-length; echo hi > /etc/new'\n"
        "LABEL purpose=leak-test\n")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET_VALUE)
    metadata = tmp_path / "metadata.json"
    proc = mason("build", "--context", str(ctx), "--destination", f"{host}/sec/out:v1", "-v", "trace",
                 "--metadata-file", str(metadata), "--secret", f"id=tok,src={secret_file}",
                 "--build-arg", f"API_TOKEN={ARG_VALUE}", "--work-dir", str(tmp_path / "work"), *extra,
                 env=cli_env(**env))
    return proc, metadata


def _check(tmp_path: Path, proc, metadata: Path, ref: str, user: str, password: str) -> None:
    out = text(proc)
    assert proc.returncode == 0, out[-3000:]
    assert_no_traceback(proc)
    assert "/v2/" in out, "trace output should show the registry requests (else this test proves little)"
    image, members = _image_bytes(ref, f"{user}:{password}", tmp_path / "pulled")
    places = {"output": out.encode(), "metadata file": metadata.read_bytes(), "image": image}
    for where, data in places.items():
        for needle in _forbidden(user, password):
            assert needle.encode() not in data, f"{needle!r} leaked into the {where}"
    # the secret mount left nothing; the host's files and the work dir path are not in the image
    names = {m.name.lstrip("./") for m in members}
    assert not [n for n in names if n.startswith("run/secrets")], names
    assert "etc/resolv.conf" not in names and "etc/hosts" not in names, names
    assert b"mason-build-" not in image and str(tmp_path).encode() not in image
    for host_file in ("/etc/resolv.conf",):
        content = Path(host_file).read_bytes().strip()
        if len(content) > 20:
            assert content not in image, f"{host_file} of the build host is in the image"
    # the secret-looking build-arg and ARG name are warned about, without the value
    assert "SecretsUsedInArgOrEnv" in out or "looks like a secret" in out, out[-3000:]
    warning_lines = [line for line in out.splitlines() if "API_TOKEN" in line]
    assert warning_lines and not [line for line in warning_lines if ARG_VALUE in line]


def test_basic_auth_over_tls(tmp_path, registry_tls, busybox_layout):
    creds = f"{DEFAULT_USER}:{DEFAULT_PASSWORD}"
    push_layout(busybox_layout, f"{registry_tls.host}/sec/base:latest", creds=creds)
    config = registry_tls.docker_config(str(tmp_path / "docker"))
    proc, metadata = _build(tmp_path, registry_tls.host, {"DOCKER_CONFIG": config},
                            ["--registry-certificate", f"{registry_tls.host}={registry_tls.ca_file}"])
    _check(tmp_path, proc, metadata, f"{registry_tls.host}/sec/out:v1", DEFAULT_USER, DEFAULT_PASSWORD)


def test_token_auth(tmp_path, registry_token, busybox_layout):
    creds = f"{DEFAULT_USER}:{DEFAULT_PASSWORD}"
    push_layout(busybox_layout, f"{registry_token.host}/sec/base:latest", creds=creds)
    config = registry_token.docker_config(str(tmp_path / "docker"))
    proc, metadata = _build(tmp_path, registry_token.host, {"DOCKER_CONFIG": config},
                            ["--insecure-registry", registry_token.host])
    assert any(r["user"] == DEFAULT_USER for r in registry_token.issuer.requests), "no token was issued"
    _check(tmp_path, proc, metadata, f"{registry_token.host}/sec/out:v1", DEFAULT_USER, DEFAULT_PASSWORD)


def test_gitlab_ci_registry_variables(tmp_path, registry_tls, busybox_layout):
    creds = f"{DEFAULT_USER}:{DEFAULT_PASSWORD}"
    push_layout(busybox_layout, f"{registry_tls.host}/sec/base:latest", creds=creds)
    env = {"CI_REGISTRY": registry_tls.host, "CI_REGISTRY_USER": DEFAULT_USER,
           "CI_REGISTRY_PASSWORD": DEFAULT_PASSWORD, "DOCKER_CONFIG": str(tmp_path / "empty-docker")}
    proc, metadata = _build(tmp_path, registry_tls.host, env,
                            ["--registry-certificate", f"{registry_tls.host}={registry_tls.ca_file}"])
    _check(tmp_path, proc, metadata, f"{registry_tls.host}/sec/out:v1", DEFAULT_USER, DEFAULT_PASSWORD)


def test_wrong_password_error_does_not_echo_it(tmp_path, registry_tls, busybox_layout):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\n")
    bad = "Wr0ng-but-s3cret-pass"
    config = registry_tls.docker_config(str(tmp_path / "docker"), password=bad)
    proc = mason("build", "--context", str(ctx), "--destination", f"{registry_tls.host}/sec/denied:v1", "-v", "trace",
                 "--registry-certificate", f"{registry_tls.host}={registry_tls.ca_file}",
                 "--work-dir", str(tmp_path / "work"), env=cli_env(DOCKER_CONFIG=config))
    out = text(proc)
    assert proc.returncode == 3, out[-2000:]
    for needle in _forbidden(DEFAULT_USER, bad):
        assert needle not in out, f"{needle!r} leaked into the error output"


def test_secret_arg_and_env_names_warn(tmp_path):
    from mason.dockerfile import parse_dockerfile, plan_stages

    df = parse_dockerfile("ARG NPM_TOKEN\nFROM scratch\nENV DB_PASSWORD=x PUBLIC_KEY=y HOME=/h\nARG keyboard\n")
    plan = plan_stages(df, build_args={"NPM_TOKEN": "v", "GITHUB_AUTH_TOKEN": "w"})
    rules = [(w.rule, w.line, w.message) for w in plan.warnings if w.rule == "SecretsUsedInArgOrEnv"]
    flagged = " ".join(m for _, _, m in rules)
    assert "'NPM_TOKEN'" in flagged and "'DB_PASSWORD'" in flagged and "GITHUB_AUTH_TOKEN" in flagged
    assert "PUBLIC_KEY" not in flagged and "keyboard" not in flagged and "HOME" not in flagged
    assert {line for _, line, _ in rules} >= {1, 3}
    assert "'v'" not in flagged and "=w" not in flagged
