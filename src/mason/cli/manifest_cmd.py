"""``mason manifest create DEST SRC...``: one multi-platform tag from per-platform images.

Like ``docker buildx imagetools create -t DEST SRC...``: each SRC is an image built for one
platform (or an index whose entries are taken as they are), typically pushed by one CI job per
platform on native runners; DEST gets an OCI image index listing them all. Sources and the
destination are any location ``mason copy`` reads and writes (``REGISTRY/REPO:TAG``,
``oci:DIR[:REF]``); child manifests and their blobs are copied into the destination's
repository first, the index last. Two sources for one platform are an error.
"""

from __future__ import annotations

import sys


def configure(parser) -> None:
    from mason.cli.copy_cmd import add_registry_flags

    sub = parser.add_subparsers(dest="manifest_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="write an image index listing per-platform images",
                            description="write an image index listing per-platform images")
    create.add_argument("destination", metavar="DEST", help="REGISTRY/REPO:TAG or oci:DIR[:REF]")
    create.add_argument("sources", metavar="SRC", nargs="+", help="a per-platform image (or an index)")
    create.add_argument("--annotation", action="append", default=[], metavar="KEY=VALUE",
                        help="annotation of the index (repeatable)")
    create.add_argument("--jobs", type=int, default=4, metavar="N", help="blobs transferred at once (default 4)")
    create.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    add_registry_flags(create)


def run(args) -> int:
    from mason.cli.copy_cmd import client_factory
    from mason.cli.keyvalue import key_value_map
    from mason.errors import UsageError
    from mason.image.combine import combine
    from mason.image.copy import copy
    from mason.image.location import open_sink, open_source, parse_location

    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    annotations = key_value_map(args.annotation, "--annotation")
    dest = parse_location(args.destination)
    if dest.kind not in ("registry", "oci"):
        raise UsageError(f"{args.destination}: an index can be written to a registry or an OCI layout only")
    factory = client_factory(args)
    sources = [(text, open_source(parse_location(text), factory)) for text in args.sources]
    index = combine(sources, annotations)
    sink = open_sink(dest, factory, jobs=args.jobs)
    result = copy(index, sink, jobs=args.jobs)
    if not args.quiet:
        platforms = ", ".join(str(d.platform) for d in index.manifests)
        print(f"{dest}: {result.descriptor.digest} ({platforms}; {len(result.blobs_copied)} blobs copied, "
              f"{len(result.blobs_skipped)} already present)", file=sys.stdout)
    return 0
