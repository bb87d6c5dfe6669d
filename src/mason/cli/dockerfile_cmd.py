"""``mason dockerfile parse FILE [--json]`` and ``mason dockerfile check FILE``."""

from __future__ import annotations


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="dockerfile_command", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("parse", help="print the parse tree of a Dockerfile (BuildKit's AST dump); "
                       "instruction errors are for 'check'")
    p.add_argument("file", metavar="FILE", help="the Dockerfile ('-' for standard input)")
    p.add_argument("--json", action="store_true", help="print the parse tree as JSON")
    c = sub.add_parser("check", help="validate a Dockerfile and print every error and warning")
    c.add_argument("file", metavar="FILE", help="the Dockerfile ('-' for standard input)")
    c.add_argument("--build-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="a build argument (to check for unused ones)")
    c.add_argument("--target", default=None, help="the stage to check the build of")


def _read(path: str) -> str:
    import sys

    from mason.errors import UsageError

    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read Dockerfile {path}: {exc.strerror}") from None


def run(args) -> int:
    import json
    import sys

    from mason.dockerfile import check_dockerfile
    from mason.dockerfile.parser import parse
    from mason.errors import UsageError

    text = _read(args.file)
    name = "Dockerfile" if args.file == "-" else args.file
    if args.dockerfile_command == "parse":
        # The parser's view only, as BuildKit's parser: what it accepts (CMD before FROM, an
        # unknown flag, HEALTHCHECK with no argument) is an instruction error for 'check' and
        # 'build'. Warnings go to stderr, so stdout stays the tree (and valid JSON).
        tree = parse(text, file=name)
        if args.json:
            print(json.dumps(tree.to_json(), indent=2, ensure_ascii=False))
        else:
            sys.stdout.write(tree.dump())
        for warning in tree.warnings:
            print(str(warning), file=sys.stderr)
        return 0
    build_args = {}
    for item in args.build_arg:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid --build-arg {item!r}: expected NAME=VALUE")
        build_args[key] = value
    diagnostics = check_dockerfile(text, file=name, build_args=build_args, target=args.target)
    for d in diagnostics:
        print(str(d))
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    print(f"{name}: {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0
