"""SSL_CERT_FILE / SSL_CERT_DIR / Kaniko's certs directory: extra CAs, read from the environment mapping."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mason.errors import UsageError
from mason.executor.options import RegistryAccess
from mason.executor.registryaccess import registry_options
from mason.tls import TlsTrust, env_ca_sources
from mason.tls.trust import pem_blocks
from tests.support.certs import make_ca


def _ca(directory, name):
    files, _, _ = make_ca(str(directory), name)
    return files.cert


def test_file_dirs_and_kaniko_dir_in_order(tmp_path):
    ca_file = _ca(tmp_path / "a", "file CA")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "b.crt").write_bytes(open(_ca(tmp_path / "b", "B"), "rb").read())
    (certs / "README").write_text("not a certificate")
    kaniko = tmp_path / "kaniko"
    kaniko.mkdir()
    (kaniko / "additional-ca-cert-bundle.crt").write_bytes((tmp_path / "a" / "ca.pem").read_bytes() +
                                                            (tmp_path / "b" / "ca.pem").read_bytes())
    env = {"SSL_CERT_FILE": ca_file, "SSL_CERT_DIR": f"{certs}:", "MASON_KANIKO_CERTS_DIR": str(kaniko)}
    sources = env_ca_sources(env)
    assert [(s.origin, s.path) for s in sources] == [
        ("SSL_CERT_FILE", ca_file), ("SSL_CERT_DIR", str(certs / "b.crt")),
        (str(kaniko), str(kaniko / "additional-ca-cert-bundle.crt"))]
    assert sources[2].pem.count(b"BEGIN CERTIFICATE") == 2
    assert env_ca_sources({"MASON_KANIKO_CERTS_DIR": str(tmp_path / "absent")}) == ()


def test_missing_or_empty_paths_are_errors(tmp_path):
    with pytest.raises(UsageError, match="SSL_CERT_FILE=.*no such file"):
        env_ca_sources({"SSL_CERT_FILE": str(tmp_path / "nope.pem")})
    with pytest.raises(UsageError, match="SSL_CERT_DIR: .* is not a directory"):
        env_ca_sources({"SSL_CERT_DIR": str(tmp_path / "nope")})
    (tmp_path / "empty.pem").write_text("nothing here")
    with pytest.raises(UsageError, match="no PEM certificate"):
        env_ca_sources({"SSL_CERT_FILE": str(tmp_path / "empty.pem")})


def test_a_broken_certificate_names_its_file(tmp_path):
    bad = tmp_path / "bad.crt"
    bad.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with pytest.raises(UsageError, match=r"SSL_CERT_FILE: .*bad\.crt: not a valid PEM certificate"):
        TlsTrust.from_env({"SSL_CERT_FILE": str(bad)})


@pytest.mark.parametrize("body, why", [
    ("MIIB!!!!", "base64"),                                  # not base64
    ("AgEF", "not a DER sequence"),                          # an INTEGER, not a SEQUENCE
    ("MAMCAQUC", "DER length 3 but 4 bytes"),                # a SEQUENCE with a byte after it
])
def test_a_malformed_certificate_is_refused_at_start(tmp_path, body, why):
    bad = tmp_path / "bad.crt"
    good = open(_ca(tmp_path / "ok", "OK"), "rb").read()
    bad.write_bytes(good + f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode())
    with pytest.raises(UsageError, match=rf"SSL_CERT_FILE: .*bad\.crt: not a valid PEM certificate \({why}"):
        TlsTrust.from_env({"SSL_CERT_FILE": str(bad)})


def test_well_formed_extra_cas_load_at_first_use(tmp_path):
    """The start-up check is structural: OpenSSL (and the system roots) load at the first
    HTTPS context, and that context trusts the extra CA."""
    ca_file = _ca(tmp_path / "a", "extra CA")
    trust = TlsTrust.from_env({"SSL_CERT_FILE": ca_file})
    assert trust._base is None
    subjects = {dict(x[0] for x in c["subject"]).get("commonName") for c in trust.context().get_ca_certs()}
    assert "extra CA" in subjects


def test_registry_clients_take_the_builds_trust():
    trust = TlsTrust.of()
    access = RegistryAccess(ca_certificates={"r.example": "/own.crt"})
    options = registry_options(access, push=True, trust=trust)
    assert options.trust is trust
    assert options.for_host("r.example").ca_files == ("/own.crt",)
    assert options.for_host("other.example").ca_files == ()


_REGEX = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.S)
_PIECES = [b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----", b"\n", b"\r\n", b"\r", b"MIIB",
           b"x", b"-----", b"BEGIN CERTIFICATE-----", b" "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=14))
@example([_PIECES[0], _PIECES[8], b"\n", b"x", b"\n", _PIECES[1]])     # a BEGIN inside a BEGIN line
def test_pem_blocks_finds_what_the_pem_regex_finds(pieces):
    data = b"".join(pieces)
    assert pem_blocks(data) == _REGEX.findall(data)


def test_pem_blocks_of_a_real_bundle(tmp_path):
    bundle = b"".join(open(_ca(tmp_path / str(i), f"CA {i}"), "rb").read() for i in range(3))
    assert len(pem_blocks(b"junk\n" + bundle + b"trailer")) == 3
