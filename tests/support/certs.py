"""Test PKI made with ``cryptography``: a CA, server certificates for 127.0.0.1, a signing cert."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertFiles:
    cert: str
    key: str


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer).public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2)))


def make_ca(directory: str, name: str = "mason test CA"):
    """A self-signed CA; returns (CertFiles, key object, certificate object)."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (_builder(name, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    files = CertFiles(_write(os.path.join(directory, "ca.pem"), cert.public_bytes(serialization.Encoding.PEM)),
                      _write(os.path.join(directory, "ca-key.pem"), _key_pem(key)))
    return files, key, cert


def make_server_cert(directory: str, ca_key, ca_cert, host: str = "127.0.0.1") -> CertFiles:
    """A server certificate for ``host`` (IP or DNS name) signed by the CA."""
    key = _key()
    try:
        san = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    cert = (_builder(host, ca_cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName([san, x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return CertFiles(_write(os.path.join(directory, "server.pem"), cert.public_bytes(serialization.Encoding.PEM)),
                     _write(os.path.join(directory, "server-key.pem"), _key_pem(key)))


def make_signing_cert(directory: str, name: str = "mason test token issuer"):
    """A self-signed certificate for signing tokens; returns (CertFiles, key, certificate)."""
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = _builder(name, subject, key.public_key()).sign(key, hashes.SHA256())
    os.makedirs(directory, exist_ok=True)
    files = CertFiles(_write(os.path.join(directory, "token.pem"), cert.public_bytes(serialization.Encoding.PEM)),
                      _write(os.path.join(directory, "token-key.pem"), _key_pem(key)))
    return files, key, cert
