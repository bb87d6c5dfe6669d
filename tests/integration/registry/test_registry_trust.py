"""Reaching real registries the way a Kaniko pipeline expects, without extra flags.

* A registry on a loopback address that serves plain HTTP is reached after HTTPS fails (as
  go-containerregistry does), and the log says so.
* A TLS registry signed by a private CA is trusted when the CA arrives through
  ``SSL_CERT_FILE``, ``SSL_CERT_DIR`` or Kaniko's ``/kaniko/ssl/certs`` (GitLab's recipe
  appends it to ``additional-ca-cert-bundle.crt``); without it the error names the host and
  the CA files tried, and mason does not retry in plain HTTP.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import shutil
import subprocess
import uuid

import pytest

from mason.cli import build_cmd
from mason.errors import RegistryError
from mason.oci.reference import parse_reference
from mason.registry import Credential, RegistryClient, RegistryOptions, RetryPolicy, StaticKeychain
from mason.tls import TlsTrust
from tests.integration.executor.buildhelpers import write_context

pytestmark = pytest.mark.integration


def cli(tmp_path, argv, **env):
    out = io.StringIO()
    code = build_cmd.run(argparse.Namespace(kaniko_argv=argv),
                         env={"CI": "true", "PATH": os.environ["PATH"], "TMPDIR": str(tmp_path),
                              "MASON_KANIKO_CERTS_DIR": str(tmp_path / "no-kaniko-certs"), **env},
                         cwd=tmp_path, stdin=io.BytesIO(), stdout=out, stderr=out)
    return code, out.getvalue()


def scratch_context(tmp_path):
    return write_context(tmp_path / f"ctx-{uuid.uuid4().hex[:6]}", "FROM scratch\nCOPY f.txt /f.txt\n",
                         {"f.txt": uuid.uuid4().hex})


def exists(server, ref):
    """skopeo (not mason) says whether ``ref`` is in the registry."""
    args = ["skopeo", "inspect", "--raw"]
    if server.variant == "tls":
        certs = os.path.join(server.workdir, "skopeo-certs")
        os.makedirs(certs, exist_ok=True)
        shutil.copy(server.ca_file, os.path.join(certs, "ca.crt"))
        args += ["--cert-dir", certs, "--creds", f"{server.username}:{server.password}"]
    else:
        args += ["--tls-verify=false"]
    return subprocess.run([*args, f"docker://{ref}"], capture_output=True).returncode == 0


def kaniko_certs(tmp_path, ca_file):
    """GitLab's recipe: ``cat "$CI_SERVER_TLS_CA_FILE" >> /kaniko/ssl/certs/additional-ca-cert-bundle.crt``."""
    certs = tmp_path / "kaniko-ssl-certs"
    certs.mkdir(exist_ok=True)
    with open(certs / "additional-ca-cert-bundle.crt", "ab") as bundle, open(ca_file, "rb") as ca:
        bundle.write(ca.read())
    return certs


# -- plain HTTP on loopback -------------------------------------------------------------------------


def test_loopback_registry_in_plain_http_needs_no_flag(tmp_path, registry_plain):
    dest = f"{registry_plain.host}/trust/plain:{uuid.uuid4().hex[:8]}"
    code, log = cli(tmp_path, ["--context", str(scratch_context(tmp_path)), "--destination", dest,
                               "--work-dir", str(tmp_path / "work")])
    assert code == 0, log
    assert f"registry {registry_plain.host} does not answer HTTPS" in log
    assert "using plain HTTP" in log
    assert exists(registry_plain, dest)


def test_the_client_probes_once_and_logs(registry_plain, caplog):
    logger = logging.getLogger("test.registry.trust")
    client = RegistryClient(options=RegistryOptions(), logger=logger)
    with caplog.at_level(logging.INFO, logger="test.registry.trust"):
        client.ping(registry_plain.host)
        client.ping(registry_plain.host)
    notices = [r for r in caplog.records if "does not answer HTTPS" in r.getMessage()]
    assert len(notices) == 1
    with pytest.raises(RegistryError):
        RegistryClient(options=RegistryOptions(local_http_fallback=False)).ping(registry_plain.host)


def test_tls_registry_on_loopback_is_not_downgraded(registry_tls):
    """HTTPS answers with a certificate mason does not trust: that is the error, no HTTP retry."""
    client = RegistryClient(options=RegistryOptions(trust=TlsTrust.of()))
    with pytest.raises(RegistryError) as caught:
        client.ping(registry_tls.host)
    message = str(caught.value)
    assert f"TLS with {registry_tls.host} failed: certificate not trusted" in message
    assert "CA files tried: system" in message
    assert f"http://{registry_tls.host}" not in message


# -- private CAs ----------------------------------------------------------------------------------


def _push_argv(tmp_path, server, tag):
    dest = f"{server.host}/trust/{tag}:{uuid.uuid4().hex[:8]}"
    return dest, ["--context", str(scratch_context(tmp_path)), "--destination", dest,
                  "--work-dir", str(tmp_path / "work")]


def test_kaniko_certs_bundle_is_trusted(tmp_path, registry_tls):
    dest, argv = _push_argv(tmp_path, registry_tls, "kaniko")
    config = registry_tls.docker_config(str(tmp_path / "docker"))
    certs = kaniko_certs(tmp_path, registry_tls.ca_file)
    code, log = cli(tmp_path, argv, DOCKER_CONFIG=config, MASON_KANIKO_CERTS_DIR=str(certs))
    assert code == 0, log
    assert exists(registry_tls, dest)


@pytest.mark.parametrize("how", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_ssl_cert_variables_are_trusted(tmp_path, registry_tls, how):
    dest, argv = _push_argv(tmp_path, registry_tls, how.lower())
    config = registry_tls.docker_config(str(tmp_path / "docker"))
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(registry_tls.ca_file, certs / "company-ca.pem")
    value = str(certs / "company-ca.pem") if how == "SSL_CERT_FILE" else f"/nonexistent-is-an-error:{certs}"
    if how == "SSL_CERT_DIR":
        code, log = cli(tmp_path, argv, DOCKER_CONFIG=config, SSL_CERT_DIR=value)
        assert code == 2 and "/nonexistent-is-an-error is not a directory" in log, log
        value = str(certs)
    code, log = cli(tmp_path, argv, DOCKER_CONFIG=config, **{how: value})
    assert code == 0, log
    assert exists(registry_tls, dest)


def test_untrusted_registry_names_host_and_ca_files(tmp_path, registry_tls):
    dest, argv = _push_argv(tmp_path, registry_tls, "untrusted")
    config = registry_tls.docker_config(str(tmp_path / "docker"))
    other = kaniko_certs(tmp_path, _other_ca(tmp_path))
    code, log = cli(tmp_path, argv, DOCKER_CONFIG=config, MASON_KANIKO_CERTS_DIR=str(other))
    assert code == 3, log
    assert f"TLS with {registry_tls.host} failed: certificate not trusted" in log
    assert "CA files tried: system" in log and str(other / "additional-ca-cert-bundle.crt") in log
    assert not exists(registry_tls, dest)


def _other_ca(tmp_path):
    from tests.support.certs import make_ca

    files, _, _ = make_ca(str(tmp_path / "other-ca"), "some other CA")
    return files.cert


def test_client_with_trust_from_the_environment_mapping(registry_tls):
    trust = TlsTrust.from_env({"SSL_CERT_FILE": registry_tls.ca_file})
    client = RegistryClient(keychain=StaticKeychain({registry_tls.host: Credential(registry_tls.username,
                                                                                   registry_tls.password)}),
                            options=RegistryOptions(trust=trust))
    ref = parse_reference(f"{registry_tls.host}/trust/absent:1")
    assert client.blob_size(ref, "sha256:" + "0" * 64) is None


def test_warm_reaches_a_loopback_registry_in_plain_http(tmp_path, registry_plain, busybox_layout):
    import sys

    from tests.support.images import push_layout

    ref = f"{registry_plain.host}/trust/warm-plain:{uuid.uuid4().hex[:8]}"
    push_layout(busybox_layout, ref)
    proc = subprocess.run([sys.executable, "-m", "mason", "warm", "-i", ref, "-c", str(tmp_path / "cache")],
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CI": "true"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"registry {registry_plain.host} does not answer HTTPS" in proc.stderr
    assert any((tmp_path / "cache").iterdir())


def test_a_redirect_to_another_https_host_trusts_the_same_cas(tmp_path):
    """Registries redirect blob downloads to storage hosts: those connections trust the build's
    CAs as well, not only the registry host's."""
    from mason.registry.options import RegistryOptions as Options
    from mason.registry.transport import Transport
    from tests.support.tlsserver import TlsServer

    storage = TlsServer(str(tmp_path / "storage"), files={"/blob": b"blob bytes"}).start()
    front = TlsServer(str(tmp_path / "front"), redirects={"/v2/r/blobs/x": storage.url("/blob")}).start()
    try:
        certs = tmp_path / "certs"
        certs.mkdir()
        shutil.copy(storage.ca_file, certs / "storage.crt")
        shutil.copy(front.ca_file, certs / "front.crt")
        transport = Transport(Options(trust=TlsTrust.from_env({"SSL_CERT_DIR": str(certs)})))
        with transport.request("GET", front.url("/v2/r/blobs/x"), registry=front.host) as response:
            assert response.status_code == 200 and response.content == b"blob bytes"
        assert storage.requests == ["GET /blob"]
        only_front = Transport(Options(trust=TlsTrust.from_env({"SSL_CERT_FILE": front.ca_file}),
                                       retry=RetryPolicy(max_attempts=1)))
        with pytest.raises(RegistryError) as caught:
            only_front.request("GET", front.url("/v2/r/blobs/x"), registry=front.host)
        assert f"TLS with {storage.host} failed: certificate not trusted" in str(caught.value)
    finally:
        front.stop()
        storage.stop()
