"""``mason copy SRC DST``: copy an image between registries, OCI layouts, docker archives.

Each side is ``REGISTRY/REPO[:TAG][@DIGEST]``, ``oci:DIR[:REF]`` or ``docker-archive:FILE[:NAME]``
(``scratch`` as a source). A multi-platform index is copied whole (digest unchanged) unless
``--platform`` picks one image; a docker-archive destination holds one platform (the host's
unless ``--platform`` says otherwise).
"""

from __future__ import annotations

import argparse


def add_registry_flags(parser: argparse.ArgumentParser) -> None:
    """Registry/TLS flags shared by the commands that talk to registries."""
    g = parser.add_argument_group("registry access")
    g.add_argument("--insecure", action="store_true", help="use plain HTTP for every registry")
    g.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                   help="use plain HTTP for HOST (repeatable)")
    g.add_argument("--skip-tls-verify", action="store_true", help="do not verify TLS certificates")
    g.add_argument("--skip-tls-verify-registry", action="append", default=[], metavar="HOST",
                   help="do not verify TLS certificates of HOST (repeatable)")
    g.add_argument("--registry-certificate", action="append", default=[], metavar="HOST=CA_FILE",
                   help="trust the PEM CA certificate CA_FILE for HOST (repeatable)")
    g.add_argument("--registry-client-cert", action="append", default=[], metavar="HOST=CERT[,KEY]",
                   help="present the PEM client certificate CERT (and KEY) to HOST (repeatable)")


def client_factory(args):
    """A function building one RegistryClient from the flags, on first use only."""
    built = []

    def factory():
        if not built:
            built.append(_build_client(args))
        return built[0]

    return factory


def _split_host_value(item: str, flag: str) -> tuple[str, str]:
    from mason.errors import UsageError

    host, sep, value = item.partition("=")
    if not sep or not host or not value:
        raise UsageError(f"{flag} {item!r}: expected HOST=VALUE")
    return host, value


def _build_client(args):
    import os

    from mason.registry import RegistryClient, RegistryHostOptions, RegistryOptions, default_keychain
    from mason.tls import TlsTrust

    cas: dict[str, list[str]] = {}
    for item in args.registry_certificate:
        host, ca = _split_host_value(item, "--registry-certificate")
        cas.setdefault(host, []).append(ca)
    certs: dict[str, tuple[str, str | None]] = {}
    for item in args.registry_client_cert:
        host, value = _split_host_value(item, "--registry-client-cert")
        cert, _, key = value.partition(",")
        certs[host] = (cert, key or None)
    hosts = {host: RegistryHostOptions(ca_files=tuple(cas.get(host, ())),
                                       client_cert=certs.get(host, (None, None))[0],
                                       client_key=certs.get(host, (None, None))[1])
             for host in set(cas) | set(certs)}
    options = RegistryOptions(insecure=args.insecure, insecure_registries=frozenset(args.insecure_registry),
                              skip_tls_verify=args.skip_tls_verify,
                              skip_tls_verify_registries=frozenset(args.skip_tls_verify_registry), hosts=hosts,
                              trust=TlsTrust.from_env(os.environ))
    return RegistryClient(keychain=default_keychain(dict(os.environ)), options=options, logger=_notices())


def _notices():
    """A logger of this command's own (not in logging's global registry) printing the registry
    client's notices (retries, a local registry reached over plain HTTP) on stderr."""
    import logging
    import sys

    logger = logging.Logger("mason.registry", logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("registry: %(message)s"))
    logger.addHandler(handler)
    return logger


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="REGISTRY/REPO:TAG, oci:DIR[:REF], docker-archive:FILE[:NAME], scratch")
    parser.add_argument("destination", metavar="DST", help="REGISTRY/REPO:TAG, oci:DIR[:REF], docker-archive:FILE[:NAME]")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", dest="all_platforms",
                       help="copy every platform of an index (the default where the destination can hold an index)")
    which.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="copy only this platform's image")
    parser.add_argument("--jobs", type=int, default=4, metavar="N", help="blobs transferred at once (default 4)")
    parser.add_argument("--validate", action="store_true",
                        help="after copying, read the destination back and check every digest, size and diff_id")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    add_registry_flags(parser)


def run(args) -> int:
    from mason.errors import UsageError
    from mason.image.copy import copy
    from mason.image.location import open_sink, open_source, parse_location
    from mason.image.validate import validate
    from mason.oci.platform import parse_platform

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    platform = parse_platform(args.platform) if args.platform else None
    src, dst = parse_location(args.source), parse_location(args.destination)
    factory = client_factory(args)
    view = open_source(src, factory, platform)
    sink = open_sink(dst, factory, jobs=args.jobs)
    result = copy(view, sink, platform=platform, all_platforms=args.all_platforms, jobs=args.jobs)
    if args.validate:
        from mason.image.location import Location

        check = dst
        if dst.kind == "registry":
            check = Location("registry", reference=dst.reference.with_digest(result.descriptor.digest))
        validate(open_source(check, factory))
    if not args.quiet:
        print(f"copied {src} -> {dst}: {result.descriptor.digest} "
              f"({len(result.blobs_copied)} blobs copied, {len(result.blobs_skipped)} already present)")
    return 0
