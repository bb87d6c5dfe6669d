"""TLS trust for every HTTPS connection mason makes (see ``mason.tls.trust``)."""

from mason.tls.trust import KANIKO_CERTS_DIR, KANIKO_CERTS_ENV, CaSource, TlsTrust, env_ca_sources

__all__ = ["KANIKO_CERTS_DIR", "KANIKO_CERTS_ENV", "CaSource", "TlsTrust", "env_ca_sources"]
