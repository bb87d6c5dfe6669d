"""mason's command line: parse, then delegate to one module per subcommand.

Subcommand modules are imported only when named on the command line (or for --help),
and each imports its heavy dependencies inside ``run`` so start-up stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Each module defines ``configure(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "build": ("mason.cli.build_cmd", "build an image from a Dockerfile (accepts every Kaniko executor flag)"),
    "executor": ("mason.cli.build_cmd", "same as build (Kaniko's executor name)"),
    "bake": ("mason.cli.bake_cmd", "build several images from a bake file, in parallel"),
    "copy": ("mason.cli.copy_cmd", "copy an image between registries, OCI layouts and docker archives"),
    "inspect": ("mason.cli.inspect_cmd", "show an image's manifest, config and layers"),
    "dockerfile": ("mason.cli.dockerfile_cmd", "parse or check a Dockerfile"),
    "ci": ("mason.cli.ci_cmd", "lint, fix and generate GitLab CI pipelines"),
    "warm": ("mason.cli.warm_cmd", "fill --cache-dir with base images (Kaniko's warmer)"),
    "version": ("mason.cli.version_cmd", "print mason's version"),
}


def _available_commands() -> dict[str, tuple[str, str]]:
    """Commands whose module exists in this installation."""
    import importlib.util

    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mason", description="mason: daemonless container image builder")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _available_commands().items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.configure(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    from mason.errors import MasonError

    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2 if command else 0
    try:
        return int(module.run(args) or 0)
    except MasonError as exc:
        _render_error(exc, debug=getattr(args, "verbosity", "") in ("debug", "trace"))
        return exc.exit_code
    except KeyboardInterrupt:
        print("mason: interrupted", file=sys.stderr)
        return 130


def _render_error(exc, debug: bool = False) -> None:
    if debug:
        import traceback

        traceback.print_exception(exc)
    print(f"error: {exc}", file=sys.stderr)
    if getattr(exc, "hint", None):
        print(f"hint: {exc.hint}", file=sys.stderr)


def executor_main() -> int:
    """Entry point named ``executor``: behaves as ``mason build`` (Kaniko's executor)."""
    argv = sys.argv[1:]
    if argv[:1] == ["version"]:
        return main(["version"])
    return main(["build", *argv])
