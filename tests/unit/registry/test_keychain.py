import base64
import json
import os
import stat

import pytest

from mason.errors import AuthError
from mason.registry import Credential, DockerConfigKeychain, GitLabKeychain, StaticKeychain, default_keychain
from mason.registry.keychain import normalize_registry_key


def write_config(directory, doc):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(doc, f)
    return str(directory)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def keychain(env, **kwargs):
    kwargs.setdefault("kaniko_dir", None)
    return DockerConfigKeychain(env, **kwargs)


@pytest.mark.parametrize("key", ["reg.example.com:5000", "https://reg.example.com:5000",
                                 "https://reg.example.com:5000/v1/", "http://REG.example.com:5000/v2/"])
def test_auth_entry_key_spellings(tmp_path, key):
    d = write_config(tmp_path / "cfg", {"auths": {key: {"auth": b64("alice:pa:ss")}}})
    cred = keychain({"DOCKER_CONFIG": d}).resolve("reg.example.com:5000")
    assert (cred.username, cred.password) == ("alice", "pa:ss")
    assert keychain({"DOCKER_CONFIG": d}).resolve("other.example.com").anonymous


def test_docker_hub_key_and_aliases(tmp_path):
    d = write_config(tmp_path / "cfg", {"auths": {"https://index.docker.io/v1/": {"auth": b64("bob:pw")}}})
    for name in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert keychain({"DOCKER_CONFIG": d}).resolve(name).username == "bob"
    assert normalize_registry_key("https://index.docker.io/v1/") == "docker.io"


def test_username_password_identitytoken_registrytoken(tmp_path):
    d = write_config(tmp_path / "cfg", {"auths": {
        "a.io": {"username": "u", "password": "p"},
        "b.io": {"auth": b64("u:"), "identitytoken": "refresh-me"},
        "c.io": {"registrytoken": "bearer-token"},
        "d.io": {},
    }})
    k = keychain({"DOCKER_CONFIG": d})
    assert (k.resolve("a.io").username, k.resolve("a.io").password) == ("u", "p")
    assert k.resolve("b.io").identity_token == "refresh-me"
    assert k.resolve("c.io").registry_token == "bearer-token"
    assert k.resolve("d.io").anonymous


def test_search_order_docker_config_then_home_then_kaniko(tmp_path):
    env_dir = write_config(tmp_path / "env", {"auths": {"a.io": {"auth": b64("from-env:1")}}})
    write_config(tmp_path / "home" / ".docker", {"auths": {"a.io": {"auth": b64("from-home:1")},
                                                           "b.io": {"auth": b64("from-home:2")}}})
    kaniko = write_config(tmp_path / "kaniko", {"auths": {"c.io": {"auth": b64("from-kaniko:3")}}})
    k = DockerConfigKeychain({"DOCKER_CONFIG": env_dir, "HOME": str(tmp_path / "home")}, kaniko_dir=kaniko)
    assert k.resolve("a.io").username == "from-env"
    assert k.resolve("b.io").username == "from-home"
    assert k.resolve("c.io").username == "from-kaniko"
    assert k.resolve("d.io").anonymous


def test_environment_is_an_argument_not_global(tmp_path):
    one = write_config(tmp_path / "one", {"auths": {"a.io": {"auth": b64("one:1")}}})
    two = write_config(tmp_path / "two", {"auths": {"a.io": {"auth": b64("two:2")}}})
    assert keychain({"DOCKER_CONFIG": one}).resolve("a.io").username == "one"
    assert keychain({"DOCKER_CONFIG": two}).resolve("a.io").username == "two"


def test_malformed_config_and_entries_are_errors_naming_the_file(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    with pytest.raises(AuthError, match=str(bad / "config.json")):
        keychain({"DOCKER_CONFIG": str(bad)}).resolve("a.io")
    d = write_config(tmp_path / "cfg", {"auths": {"a.io": {"auth": "!!!notbase64"}}})
    with pytest.raises(AuthError, match="invalid 'auth' value"):
        keychain({"DOCKER_CONFIG": d}).resolve("a.io")


def make_helper(bin_dir, name, script):
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(bin_dir)


def test_cred_helpers_and_creds_store_run_programs_from_env_path(tmp_path):
    bin_dir = make_helper(tmp_path / "bin", "fake", """
read server
[ "$1" = get ] || exit 3
case "$server" in
  reg.io) echo '{"ServerURL":"reg.io","Username":"helper-user","Secret":"helper-secret"}' ;;
  tok.io) echo '{"ServerURL":"tok.io","Username":"<token>","Secret":"refresh-tok"}' ;;
  https://index.docker.io/v1/) echo '{"Username":"hub","Secret":"hubpw"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
""")
    d = write_config(tmp_path / "cfg", {"credHelpers": {"reg.io": "fake", "tok.io": "fake"},
                                        "auths": {"reg.io": {"auth": b64("file-user:x")}}})
    k = keychain({"DOCKER_CONFIG": d, "PATH": bin_dir})
    assert (k.resolve("reg.io").username, k.resolve("reg.io").password) == ("helper-user", "helper-secret")
    assert k.resolve("tok.io").identity_token == "refresh-tok"
    store = write_config(tmp_path / "store", {"credsStore": "fake", "auths": {"other.io": {"auth": b64("o:p")}}})
    k = keychain({"DOCKER_CONFIG": store, "PATH": bin_dir})
    assert k.resolve("docker.io").username == "hub"
    # the store knows nothing about other.io: the file's entry is used
    assert k.resolve("other.io").username == "o"
    assert k.resolve("unknown.io").anonymous


def test_missing_or_failing_helper_is_a_clear_error(tmp_path):
    d = write_config(tmp_path / "cfg", {"credHelpers": {"reg.io": "absent"}})
    with pytest.raises(AuthError, match="docker-credential-absent .* not found on PATH"):
        keychain({"DOCKER_CONFIG": d, "PATH": str(tmp_path)}).resolve("reg.io")
    bin_dir = make_helper(tmp_path / "bin", "broken", "echo 'boom password=sekrit99' >&2; exit 2\n")
    d = write_config(tmp_path / "cfg2", {"credHelpers": {"reg.io": "broken"}})
    with pytest.raises(AuthError, match="exit 2") as info:
        keychain({"DOCKER_CONFIG": d, "PATH": bin_dir}).resolve("reg.io")
    assert "sekrit99" not in str(info.value)


def test_gitlab_ci_variables():
    env = {"CI_REGISTRY": "registry.gitlab.example.com:5050", "CI_REGISTRY_USER": "gitlab-ci-token",
           "CI_REGISTRY_PASSWORD": "job-token"}
    cred = GitLabKeychain(env).resolve("registry.gitlab.example.com:5050")
    assert (cred.username, cred.password) == ("gitlab-ci-token", "job-token")
    assert GitLabKeychain(env).resolve("docker.io").anonymous
    assert GitLabKeychain({"CI_REGISTRY": "r.io"}).resolve("r.io").anonymous


def test_default_keychain_prefers_docker_config_over_ci_variables(tmp_path):
    d = write_config(tmp_path / "cfg", {"auths": {"r.io": {"auth": b64("cfg:1")}}})
    env = {"DOCKER_CONFIG": d, "CI_REGISTRY": "r.io", "CI_REGISTRY_USER": "ci", "CI_REGISTRY_PASSWORD": "2"}
    assert default_keychain(env, kaniko_dir=None).resolve("r.io").username == "cfg"
    assert default_keychain({k: v for k, v in env.items() if k != "DOCKER_CONFIG"},
                            kaniko_dir=None).resolve("r.io").username == "ci"


def test_credential_repr_hides_secrets():
    cred = Credential("u", "very-secret", identity_token="id-secret", registry_token="reg-secret")
    assert "secret" not in repr(cred)
    assert StaticKeychain({"https://r.io/v1/": cred}).resolve("r.io") is cred
