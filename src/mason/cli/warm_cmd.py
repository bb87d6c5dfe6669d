"""``mason warm``: fill --cache-dir with base images (Kaniko's warmer, same flags).

    mason warm -i registry.example.com/base@sha256:… -c /cache
    mason warm -d Dockerfile --build-arg BASE=… -c /cache

A build given the same ``--cache-dir`` then reads a ``FROM image@sha256:…`` base from it
without contacting any registry.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from mason.cli.copy_cmd import add_registry_flags

    parser.add_argument("-i", "--image", action="append", default=[], metavar="IMAGE",
                        help="image to cache (repeatable)")
    parser.add_argument("-d", "--dockerfile", metavar="FILE", help="cache the base images of this Dockerfile's stages")
    parser.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                        help="ARG value for expanding the Dockerfile's FROM lines (repeatable)")
    parser.add_argument("-c", "--cache-dir", default="/cache", metavar="DIR", help="where to store them (default /cache)")
    parser.add_argument("-f", "--force", action="store_true", help="download again even if already cached")
    parser.add_argument("--cache-ttl", default="336h", metavar="DURATION",
                        help="entries older than this are downloaded again (Go duration, default 336h)")
    parser.add_argument("--custom-platform", metavar="OS/ARCH[/VARIANT]", help="platform to cache (default: this host's)")
    parser.add_argument("--insecure-pull", action="store_true", help="pull over plain HTTP (same as --insecure)")
    parser.add_argument("--skip-tls-verify-pull", action="store_true",
                        help="pull without verifying TLS certificates (same as --skip-tls-verify)")
    parser.add_argument("--registry-mirror", action="append", default=[], metavar="HOST[/PATH]",
                        help="Docker Hub mirror, tried before Docker Hub (repeatable; env KANIKO_REGISTRY_MIRROR)")
    parser.add_argument("--registry-map", action="append", default=[], metavar="ORIG=NEW[;ORIG2=NEW2]",
                        help="pull images of registry ORIG from NEW first (repeatable; env KANIKO_REGISTRY_MAP)")
    parser.add_argument("--skip-default-registry-fallback", action="store_true",
                        help="fail instead of falling back to the original registry when no mirror has the image")
    parser.add_argument("--image-download-retry", type=int, default=0, metavar="N",
                        help="retries of a failed image download, after the per-request retries (default 0)")
    add_registry_flags(parser)


def pull_routes(args, env):
    """``PullRoutes`` from the warmer's flags and Kaniko's environment variables (as the executor reads them)."""
    from mason.errors import UsageError
    from mason.registry.mirrors import PullRoutes

    mirrors = list(args.registry_mirror)
    if env.get("KANIKO_REGISTRY_MIRROR"):
        mirrors.append(env["KANIKO_REGISTRY_MIRROR"])
    remap: dict[str, list[str]] = {}
    maps = list(args.registry_map)
    if env.get("KANIKO_REGISTRY_MAP"):
        maps.append(env["KANIKO_REGISTRY_MAP"])
    for raw in maps:
        for piece in filter(None, (p.strip() for p in raw.split(";"))):
            orig, eq, new = piece.partition("=")
            if not eq or not orig or not new:
                raise UsageError(f"--registry-map {piece!r}: expected ORIGINAL=REPLACEMENT")
            remap.setdefault(orig, []).append(new)
    return PullRoutes.from_flags(mirrors, {k: tuple(v) for k, v in remap.items()},
                                 fallback=not args.skip_default_registry_fallback)


def run(args) -> int:
    import os
    from pathlib import Path

    from mason.cache.warm import dockerfile_bases, warm
    from mason.cli.copy_cmd import client_factory
    from mason.cli.keyvalue import key_value_map
    from mason.cli.kaniko_flags import parse_go_duration
    from mason.errors import UsageError
    from mason.oci.platform import host_platform, parse_platform

    if args.image_download_retry < 0:
        raise UsageError(f"--image-download-retry {args.image_download_retry}: must be 0 or more")
    routes = pull_routes(args, os.environ)
    args.insecure = args.insecure or args.insecure_pull
    args.skip_tls_verify = args.skip_tls_verify or args.skip_tls_verify_pull
    platform = parse_platform(args.custom_platform) if args.custom_platform else host_platform()
    images = list(args.image)
    if args.dockerfile:
        build_args = key_value_map(args.build_arg, "--build-arg", "NAME=VALUE")
        path = Path(args.dockerfile)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--dockerfile {path}: cannot read it: {exc.strerror or exc}") from None
        images += [b for b in dockerfile_bases(text, str(path), build_args=build_args, platform=platform)
                   if b not in images]
    elif args.build_arg:
        raise UsageError("--build-arg applies only with --dockerfile")
    if not images:
        raise UsageError("nothing to warm: give --image (repeatable) or --dockerfile")
    ttl = parse_go_duration(args.cache_ttl, "--cache-ttl")
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    warm(images, cache_dir, client_factory=client_factory(args), platform=platform, force=args.force,
         ttl_seconds=ttl, log=print, routes=routes, retries=args.image_download_retry,
         warn=lambda message: print(f"WARN {message}"))
    return 0
