"""Push permission is checked before building, and the error tells a CI user what to fix."""

from __future__ import annotations

import argparse
import io
import os

import pytest

from mason.cli import build_cmd
from mason.errors import AuthError
from mason.oci.reference import parse_reference
from mason.registry import RegistryClient, RegistryOptions


def _build(tmp_path, registry, username, password, destination):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    # The RUN would fail: reaching it would mean the permission check came too late.
    (ctx / "Dockerfile").write_text("FROM scratch\nRUN exit 1\n")
    config = registry.docker_config(str(tmp_path / f"docker-{username}"), username=username, password=password)
    err = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=["-c", str(ctx), "-d", destination,
                                                         "--insecure-registry", registry.host]),
                         env={"CI": "true", "DOCKER_CONFIG": config, "PATH": os.environ["PATH"],
                              "TMPDIR": str(tmp_path)},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def test_reader_gets_a_push_permission_hint_before_the_build(tmp_path, registry_token):
    reg = registry_token.host
    code, out = _build(tmp_path, registry_token, "reader", "reader-pass", f"{reg}/team/app:1")
    assert code == 3, out                                  # registry/auth exit code
    assert f"no push access to {reg}/team/app on registry {reg} as 'reader'" in out
    assert (f"hint: push permission denied for {reg}/team/app: check CI_REGISTRY_USER / the auths entry "
            f"for {reg} in $DOCKER_CONFIG/config.json") in out
    assert "reader-pass" not in out                        # never the password
    assert "RUN exit 1" not in out                         # nothing was built


def test_every_destination_is_checked(tmp_path, registry_token):
    """'private' may push to private/* only: the second destination is the one refused."""
    reg = registry_token.host
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nRUN exit 1\n")
    config = registry_token.docker_config(str(tmp_path / "docker"), username="private", password="private-pass")
    err = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=["-c", str(ctx), "-d", f"{reg}/private/app:1",
                                                         "-d", f"{reg}/public/app:1",
                                                         "--insecure-registry", reg]),
                         env={"CI": "true", "DOCKER_CONFIG": config, "TMPDIR": str(tmp_path)},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=io.StringIO(), stderr=err)
    out = err.getvalue()
    assert code == 3 and f"push permission denied for {reg}/public/app" in out, out
    assert f"denied for {reg}/private/app" not in out


def test_anonymous_is_named(registry_token):
    client = RegistryClient(keychain=None,
                            options=RegistryOptions(insecure_registries=frozenset({registry_token.host})))
    with pytest.raises(AuthError) as err:
        client.check_push_permission(parse_reference(f"{registry_token.host}/team/app:1"))
    assert "without credentials" in str(err.value) and "CI_REGISTRY_USER" in err.value.hint
