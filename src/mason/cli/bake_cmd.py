"""``mason bake [FILE]``: build several images from a bake file, in parallel, in one process.

Every image is an isolated build (its own work dir, its own stages: nothing of one image can
reach another), independent images run in parallel up to ``--jobs``, and all of them share
one extracted-layer store (``--cache-dir``) and the registry. Dependencies come from
``depends_on`` and from the Dockerfiles (``FROM`` / ``COPY --from`` naming another image's
destination). A failed image stops the images built on it, not the others.

Log lines are prefixed with the image name (``[image-a] INFO[0001] …``), or carry an
``image`` field with ``--log-format json``. Exit code: 0 when every image was built, else the
first failed image's (1 build, 2 usage, 3 registry/auth, 4 internal); see docs/cli.md.
"""

from __future__ import annotations

import functools

import sys

DEFAULT_FILE = "mason.bake.yml"


def configure(parser) -> None:
    parser.add_argument("file", nargs="?", default=DEFAULT_FILE,
                        help=f"the bake file (default: {DEFAULT_FILE})")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="images built at once (default: 2)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="IMAGE.KEY=VALUE",
                        help="override a value for one image (or * for all), e.g. app.target=prod, "
                             "*.build_args.VERSION=1.2, app.destinations=r/app:1,r/app:latest")
    parser.add_argument("--cache-dir", help="extracted-layer store shared by the builds (kept between runs)")
    parser.add_argument("--work-dir", help="parent of the builds' private work dirs (default: $TMPDIR)")
    parser.add_argument("--insecure-registry", action="append", default=[], metavar="REGISTRY",
                        help="use plain HTTP for this registry (repeatable)")
    parser.add_argument("--registry-certificate", action="append", default=[], metavar="REGISTRY=CA_FILE",
                        help="trust this CA for this registry (repeatable); SSL_CERT_FILE/SSL_CERT_DIR also apply")
    parser.add_argument("--allow", action="append", default=[], metavar="ENTITLEMENT",
                        help="grant an entitlement images may list in their entitlements: network.host "
                             "(RUN --network=host) or security.insecure (RUN --security=insecure); repeatable "
                             "or comma-separated, as docker buildx bake --allow")
    parser.add_argument("--run-host-loopback", action="store_true",
                        help="let every image's RUN reach the builder's 127.0.0.1 from its own network "
                             "(at 10.0.2.2), as mason build --run-host-loopback")
    parser.add_argument("--metadata-file", help="write each image's digests and references as JSON")
    parser.add_argument("-v", "--verbosity", default="info",
                        choices=("panic", "fatal", "error", "warn", "info", "debug", "trace"))
    parser.add_argument("--log-format", default="text", choices=("text", "json"))


def _registry(args, env, cwd):
    from mason.executor.options import RegistryAccess
    from mason.errors import UsageError

    certs = {}
    for raw in args.registry_certificate:
        host, eq, path = raw.partition("=")
        if not eq or not host or not path:
            raise UsageError(f"--registry-certificate {raw!r}: expected REGISTRY=/path/to/ca.crt")
        file = cwd / path
        if not file.is_file():
            raise UsageError(f"--registry-certificate {raw!r}: {file} does not exist")
        certs[host] = str(file)
    return RegistryAccess(insecure_registries=tuple(args.insecure_registry), ca_certificates=certs)


def run(args, *, executor=None, env=None, cwd=None, stderr=None) -> int:
    """Collaborators are parameters (tests pass a fake executor); the process's environment,
    directory and stream are read here, at the CLI entry only."""
    import os
    from pathlib import Path

    from mason.bake import load_bake
    from mason.bake.deps import with_inferred_dependencies
    from mason.bake.overrides import apply_sets, expand_variables
    from mason.bake.run import BakeSettings, run_bake
    from mason.cli.bake_output import BakeOutput
    from mason.tls import TlsTrust

    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else Path(cwd)
    stderr = sys.stderr if stderr is None else stderr

    bake = load_bake(cwd / args.file)
    bake = expand_variables(apply_sets(bake, args.sets), env)
    from mason.errors import UsageError

    for image in bake.images.values():
        if image.platforms:
            raise UsageError(f"{bake.path}:{image.line}: image {image.name!r}: platforms {list(image.platforms)}: "
                             "mason bake builds one platform per image",
                             hint="build several platforms with `mason build --platform a,b` (one machine, "
                                  "qemu-user for foreign RUN), or `mason ci generate` (one job per platform on "
                                  "native runners, then `mason manifest create`), or give platform: here")
    bake, inferred = with_inferred_dependencies(bake)
    from mason.bake.entitlements import granted_per_image
    from mason.sandbox.entitlements import parse as parse_allow

    allowed = parse_allow(args.allow)
    granted_per_image(bake, allowed)      # an image asking for more than --allow: refused before any build
    settings = BakeSettings(cwd=cwd, env=env, jobs=args.jobs,
                            cache_dir=(cwd / args.cache_dir) if args.cache_dir else None,
                            work_root=(cwd / args.work_dir) if args.work_dir else None,
                            registry=_registry(args, env, cwd), tls=TlsTrust.from_env(env),
                            allow=allowed, run_host_loopback=args.run_host_loopback)
    output = BakeOutput(stderr, names=list(bake.images), log_format=args.log_format, verbosity=args.verbosity)
    for name, deps in inferred.items():
        output.note(name, f"depends on {', '.join(deps)} (its Dockerfile builds on their destination)")
    output.plan(bake.levels(), settings.jobs)
    cancel = getattr(args, "_cancel", None)         # set by the CLI's signal handler
    if executor is None and cancel is not None:
        # every image's build cuts its registry transfers in flight when the bake is stopped
        from mason.executor.executor import run_build

        executor = functools.partial(run_build, cancel=cancel)
    outcomes = run_bake(bake, settings, reporter_for=output.reporter, executor=executor, on_done=output.done)
    output.summary(outcomes)
    if args.metadata_file:
        output.write_metadata(cwd / args.metadata_file, outcomes)
    failed = [o for o in outcomes.values() if o.status == "failed"]
    if failed:
        return failed[0].exit_code
    return 0 if all(o.status == "ok" for o in outcomes.values()) else 1
