"""Credentials end to end: config.json, CI variables, credential helpers, TLS options, denials."""

import base64
import json
import os
import stat
import uuid

import pytest

from mason.errors import AuthError, RegistryError
from mason.oci.reference import parse_reference
from mason.registry import (Credential, DockerConfigKeychain, RegistryClient, RegistryHostOptions,
                            RegistryOptions, StaticKeychain, default_keychain)
from tests.support.registry import client_for, client_options

pytestmark = pytest.mark.integration

DATA = b"auth test blob\n"
DIGEST = "sha256:" + __import__("hashlib").sha256(DATA).hexdigest()


def push_something(client, server, prefix="auth"):
    repo = parse_reference(f"{server.host}/{prefix}/{uuid.uuid4().hex[:8]}")
    client.upload_blob(repo, DIGEST, len(DATA), DATA)
    assert client.blob_size(repo, DIGEST) == len(DATA)
    return repo


def test_kaniko_style_config_json_via_docker_config(registry_token, tmp_path):
    config_dir = registry_token.docker_config(str(tmp_path / "kaniko" / ".docker"))
    with open(os.path.join(config_dir, "config.json")) as f:
        assert list(json.load(f)["auths"]) == [registry_token.host]
    keychain = default_keychain({"DOCKER_CONFIG": config_dir}, kaniko_dir=None)
    client = RegistryClient(keychain=keychain, options=client_options(registry_token))
    repo = push_something(client, registry_token)
    client.check_push_permission(repo)
    scopes = [r["scopes"] for r in registry_token.issuer.requests if r["user"] == registry_token.username]
    assert [f"repository:{repo.repository}:pull,push"] in scopes


@pytest.mark.parametrize("variant", ["token", "tls"])
def test_wrong_credentials_give_a_clear_auth_error(variant, request, tmp_path):
    server = request.getfixturevalue(f"registry_{variant}")
    secret = "Wrong-Pa55word-xyz"
    config_dir = server.docker_config(str(tmp_path / "cfg"), password=secret)
    client = RegistryClient(keychain=DockerConfigKeychain({"DOCKER_CONFIG": config_dir}, kaniko_dir=None),
                            options=client_options(server))
    with pytest.raises(AuthError) as info:
        push_something(client, server)
    text = f"{info.value} {info.value.hint} {info.value.url}"
    assert server.host in str(info.value)
    assert secret not in text
    assert base64.b64encode(f"{server.username}:{secret}".encode()).decode() not in text


def test_gitlab_ci_variables(registry_token):
    env = {"CI_REGISTRY": registry_token.host, "CI_REGISTRY_USER": registry_token.username,
           "CI_REGISTRY_PASSWORD": registry_token.password}
    client = RegistryClient(keychain=default_keychain(env, kaniko_dir=None), options=client_options(registry_token))
    push_something(client, registry_token)


def test_credential_helper_program(registry_token, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-masontest"
    helper.write_text("#!/bin/sh\nread server\n"
                      f"[ \"$server\" = \"{registry_token.host}\" ] || {{ echo 'credentials not found'; exit 1; }}\n"
                      f"echo '{{\"Username\":\"{registry_token.username}\",\"Secret\":\"{registry_token.password}\"}}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"credHelpers": {registry_token.host: "masontest"}}))
    env = {"DOCKER_CONFIG": str(config), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    client = RegistryClient(keychain=default_keychain(env, kaniko_dir=None), options=client_options(registry_token))
    push_something(client, registry_token)


def test_identity_token_is_exchanged_at_the_token_service(registry_token):
    issuer = registry_token.issuer
    issuer.refresh_tokens["refresh-abc123"] = registry_token.username
    client = RegistryClient(keychain=StaticKeychain({registry_token.host: Credential(identity_token="refresh-abc123")}),
                            options=client_options(registry_token))
    push_something(client, registry_token)
    assert any(r["method"] == "POST" and r["grant"] == "refresh_token" for r in issuer.requests)


def test_push_permission_denied_names_registry(registry_token):
    reader = client_for(registry_token, username="reader", password="reader-pass")
    repo = parse_reference(f"{registry_token.host}/private/app")
    with pytest.raises(AuthError) as info:
        reader.check_push_permission(repo)
    assert registry_token.host in str(info.value) and "push" in str(info.value)
    assert "reader-pass" not in str(info.value)
    client_for(registry_token, username="private", password="private-pass").check_push_permission(repo)


def test_token_scopes_for_mount_include_both_repositories(registry_token):
    client = client_for(registry_token)
    src = push_something(client, registry_token, "mountsrc")
    dst = parse_reference(f"{registry_token.host}/mountdst/{uuid.uuid4().hex[:8]}")
    assert client.mount_blob(dst, DIGEST, src)
    last = [r["scopes"] for r in registry_token.issuer.requests if r["user"] == registry_token.username][-1]
    assert sorted(last) == sorted([f"repository:{dst.repository}:pull,push", f"repository:{src.repository}:pull"])
    # "private" may push to private/* but not read mountsrc/*: the registry refuses, caller falls back
    private = client_for(registry_token, username="private", password="private-pass")
    assert private.mount_blob(parse_reference(f"{registry_token.host}/private/x"), DIGEST, src) is False


def test_tls_needs_the_ca_unless_verification_is_skipped(registry_tls):
    keychain = StaticKeychain({registry_tls.host: Credential(registry_tls.username, registry_tls.password)})
    strict = RegistryClient(keychain=keychain, options=RegistryOptions())
    with pytest.raises(RegistryError) as info:
        strict.ping(registry_tls.host)
    assert registry_tls.host in str(info.value) and "certificate" in (info.value.hint or "")
    for options in (RegistryOptions(skip_tls_verify=True),
                    RegistryOptions(skip_tls_verify_registries={registry_tls.host}),
                    RegistryOptions(hosts={registry_tls.host: RegistryHostOptions(skip_tls_verify=True)})):
        push_something(RegistryClient(keychain=keychain, options=options), registry_tls)
