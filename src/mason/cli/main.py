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
    "manifest": ("mason.cli.manifest_cmd", "assemble a multi-platform image index from per-platform images"),
    "dockerfile": ("mason.cli.dockerfile_cmd", "parse or check a Dockerfile"),
    "ci": ("mason.cli.ci_cmd", "lint, fix and generate GitLab CI pipelines"),
    "warm": ("mason.cli.warm_cmd", "fill --cache-dir with base images (Kaniko's warmer)"),
    "version": ("mason.cli.version_cmd", "print mason's version"),
}


def _available_commands() -> dict[str, tuple[str, str]]:
    """Commands whose module exists in this installation."""
    import importlib.util

    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def build_parser(only: str | None = None, *, commands: bool = True) -> argparse.ArgumentParser:
    """The whole parser, or (``only``) one subcommand's flags with the others named only.
    Without ``commands`` (no subcommand on the line: ``--version``, ``--help``, a bare
    ``mason``) no subcommand module is imported: each is named with its help line, which is
    all the top-level usage and help show."""
    from mason import __version__

    parser = argparse.ArgumentParser(prog="mason", description="mason: daemonless container image builder")
    parser.add_argument("--version", action="version", version=f"mason {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _available_commands().items():
        if not commands or (only is not None and name != only):
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.configure(p)
        p.set_defaults(_module=module)
    return parser


def _pause_collection():
    """Start-up makes some 55 000 objects that live as long as the process (modules, classes,
    functions) and next to no garbage; the cyclic collector would traverse each of them in about
    ninety passes, ~0.03 CPU s of an all-cached build's 0.6. As a program, mason turns the
    collector off until its imports are done; then it freezes what exists (those objects are
    never traversed again, in any later collection of the build either) and turns it back on.
    Returns the function that does that (idempotent). Reference counting frees everything as
    usual meanwhile; only cycles made during start-up wait, and start-up makes few."""
    import gc

    if not gc.isenabled():
        return lambda: None
    gc.disable()
    done = False

    def resume() -> None:
        nonlocal done
        if not done:
            done = True
            gc.freeze()
            gc.enable()

    return resume


def main(argv: list[str] | None = None, *, owns_process: bool | None = None) -> int:
    """``owns_process``: this call is the program (its entry points): only then is the cyclic
    collector paused during start-up (see ``_pause_collection``); default: ``argv is None``."""
    as_program = argv is None
    resume_collection = _pause_collection() if (as_program if owns_process is None else owns_process) \
        else (lambda: None)
    try:
        return _main(argv, as_program, resume_collection)
    finally:
        resume_collection()


def _main(argv: list[str] | None, as_program: bool, resume_collection) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None, commands=command is not None)
    if not argv:
        # A bare ``mason`` is a mistake (a missing command), not a request for help: usage on
        # stderr and exit 2, as for any other usage error; ``mason --help`` exits 0.
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help(sys.stderr)
        return 2
    from mason.cancel import CancelToken
    from mason.errors import MasonError  # after parsing: --version and --help need no dataclasses

    # Set from the signal handler: a build started by this invocation cuts its registry
    # transfers in flight at once (worker threads blocked in recv never see the signal).
    args._cancel = CancelToken()
    # a subcommand that imports its machinery in ``run`` (build) resumes the collector itself
    args._imports_done = resume_collection
    if not getattr(module, "IMPORTS_IN_RUN", False):
        resume_collection()
    restore = _install_signal_handlers(args._cancel)
    try:
        return int(module.run(args) or 0)
    except MasonError as exc:
        _render_error(exc, debug=getattr(args, "verbosity", "") in ("debug", "trace"))
        return exc.exit_code
    except KeyboardInterrupt:
        print("mason: interrupted (SIGINT); the build's work directory was removed", file=sys.stderr)
        return _stopped(128 + 2, as_program=as_program)
    except Terminated as exc:
        print(f"mason: terminated ({exc.name}); the build's work directory was removed", file=sys.stderr)
        return _stopped(128 + exc.signum, as_program=as_program)
    finally:
        restore()


def _stopped(code: int, *, as_program: bool) -> int:
    """After a signal the main thread has unwound (every context manager cleaned up). Worker
    threads may still be blocked on a registry that does not answer; as a program, mason must
    not wait for them (the interpreter would join them at exit), so it exits right away.
    Called as a function (tests), the code is returned as usual."""
    import os
    import threading

    busy = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon
            and t.is_alive()]
    if as_program and busy:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) arrived: unwinds the main thread like KeyboardInterrupt does, so every
    ``with``/``finally`` on the way (RUN process trees, overlay mounts, the work dir) cleans up.
    A BaseException so ``except Exception`` blocks in the build do not swallow it."""

    def __init__(self, signum: int):
        import signal

        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def _install_signal_handlers(cancel=None):
    """SIGINT raises KeyboardInterrupt and SIGTERM/SIGHUP raise :class:`Terminated` in the main thread,
    once: a second signal while the build unwinds is ignored, so the cleanup itself is never cut
    short (Ctrl-C twice must not leave mounts behind). ``cancel`` (a ``mason.cancel.CancelToken``)
    is set first, so transfers blocked on other threads are cut while the main thread unwinds.
    Returns a function restoring the old handlers."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    names = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in names}

    def handler(signum, frame):
        for other in names:
            signal.signal(other, signal.SIG_IGN)
        if cancel is not None:
            cancel.set()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    for signum in names:
        if previous[signum] is not signal.SIG_IGN:   # nohup'ed: keep ignoring
            signal.signal(signum, handler)

    def restore():
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)

    return restore


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
        return main(["version"], owns_process=True)
    return main(["build", *argv], owns_process=True)
