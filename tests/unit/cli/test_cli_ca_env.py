"""SSL_CERT_FILE / SSL_CERT_DIR: extra CAs for every registry, read from the environment mapping."""

from __future__ import annotations

import pytest

from mason.executor.options import RegistryAccess
from mason.executor.registryaccess import registry_options
from mason.cli.build_mapping import env_ca_files
from mason.errors import UsageError

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_file_and_dir(tmp_path):
    (tmp_path / "ca.pem").write_text(PEM)
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "b.crt").write_text(PEM)
    (certs / "a.crt").write_text(PEM)
    (certs / "README").write_text("not a certificate")
    env = {"SSL_CERT_FILE": str(tmp_path / "ca.pem"), "SSL_CERT_DIR": f"{certs}:"}
    assert env_ca_files(env) == (str(tmp_path / "ca.pem"), str(certs / "a.crt"), str(certs / "b.crt"))
    assert env_ca_files({}) == ()


def test_missing_paths_are_errors(tmp_path):
    with pytest.raises(UsageError, match="SSL_CERT_FILE=.*no such file"):
        env_ca_files({"SSL_CERT_FILE": str(tmp_path / "nope.pem")})
    with pytest.raises(UsageError, match="SSL_CERT_DIR: .* is not a directory"):
        env_ca_files({"SSL_CERT_DIR": str(tmp_path / "nope")})


def test_env_cas_apply_to_every_host_after_its_own():
    access = RegistryAccess(ca_certificates={"r.example": "/own.crt"}, ca_files=("/env.crt",))
    options = registry_options(access, push=True)
    assert options.for_host("r.example").ca_files == ("/own.crt", "/env.crt")
    assert options.for_host("other.example").ca_files == ("/env.crt",)
