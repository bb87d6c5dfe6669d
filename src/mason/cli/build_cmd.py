"""``mason build`` (also registered as ``mason executor``): Kaniko's executor command line.

The flags are Kaniko's (see ``kaniko_flags``), read exactly as Kaniko's flag library reads
them, so argparse only collects the raw words here. ``run`` turns them into a frozen
``BuildOptions``, picks a reporter, calls the executor and writes Kaniko's digest files,
the metadata file and the summary.

Exit codes: 0 ok, 1 build error, 2 usage error, 3 registry/auth error, 4 internal error,
130 interrupted (SIGINT), 143 terminated (SIGTERM) (see docs/cli.md).
"""

from __future__ import annotations

import sys

EXIT_INTERNAL = 4
IMPORTS_IN_RUN = True   # mason.cli.main: ``args._imports_done()`` is called once the executor is imported
_FULL = (28, 122)   # ENOSPC, EDQUOT


def configure(parser) -> None:
    # Kaniko's flags do not follow argparse's rules (``--cache false`` is not a value, ``-dX``
    # is), so argparse must not interpret any word: with no prefix characters every word is
    # positional and lands in ``kaniko_argv`` untouched (including -h/--help, handled in run).
    parser.prefix_chars = "\0"
    parser.add_argument("kaniko_argv", nargs="*")


def _default_text(spec) -> str:
    if spec.kind == "duration":
        return f" (default {int(spec.default // 3600)}h)"
    if spec.kind == "bool":
        return " (default true)" if spec.default else ""
    return "" if spec.default in ("", ()) else f" (default {spec.default})"


def help_text(prog: str = "mason build") -> str:
    from mason.cli.kaniko_flags import FLAGS, REFUSED

    lines = [f"usage: {prog} [flags]", "",
             "Build an image from a Dockerfile; accepts every flag of Kaniko's executor.",
             "Booleans: --flag, --flag=true, --flag=false. Repeatable flags may be given several times.",
             "", "flags:"]
    for spec in FLAGS:
        names = (f"-{spec.short}, " if spec.short else "    ") + f"--{spec.name}"
        if spec.metavar:
            names += f" {spec.metavar}"
        text = spec.help + _default_text(spec)
        if spec.status == REFUSED:
            text += " [not supported]"
        elif spec.status == "accepted":
            text += " [accepted for Kaniko compatibility: see docs/cli.md]"
        if spec.aliases:
            text += f" (deprecated: {', '.join('--' + a for a in spec.aliases)})"
        lines.append(f"  {names:<42} {text}")
    lines += ["", "environment: KANIKO_NO_PUSH, KANIKO_REGISTRY_MIRROR, KANIKO_REGISTRY_MAP, KANIKO_DIR,",
              "  DOCKER_CONFIG (credentials), GIT_PULL_METHOD, SSL_CERT_FILE/SSL_CERT_DIR and",
              "  /kaniko/ssl/certs (extra CAs for every HTTPS connection), CI (plain output), NO_COLOR",
              "exit codes: 0 ok, 1 build error, 2 usage error, 3 registry/auth error, 4 internal error,"
              " 130 interrupted (SIGINT), 143 terminated (SIGTERM)"]
    return "\n".join(lines) + "\n"


def _default_executor():
    from mason.executor.executor import run_build  # imported only when building (start-up time)

    return run_build


def run(args, *, executor=None, env=None, cwd=None, stdin=None, stdout=None, stderr=None) -> int:
    """Parse Kaniko's flags, build, report. Collaborators are parameters (tests pass fakes);
    the process's environment, directory and streams are read here, at the CLI entry only."""
    import os
    from pathlib import Path

    from mason.cli.kaniko_flags import parse_argv, refuse_unsupported

    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else Path(cwd)
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    stdin = sys.stdin.buffer if stdin is None else stdin

    parsed = parse_argv(list(getattr(args, "kaniko_argv", ()) or ()))
    if parsed.help:
        stdout.write(help_text(f"mason {getattr(args, 'command', None) or 'build'}"))
        return 0
    refuse_unsupported(parsed)

    from mason.cli.build_mapping import validate
    from mason.cli.render import make_reporter, settings_from_flags

    validate(parsed, env)   # usage errors before any output machinery starts
    settings = settings_from_flags(parsed, cwd)
    reporter = make_reporter(settings, stream=stderr, output=stdout, env=env)
    detach = _attach_registry_log(reporter, settings.verbosity)
    try:
        # SIGTERM/SIGINT are handled by mason.cli.main (exit 143/130 after this unwinds)
        return _build(parsed, settings, reporter, executor, env=env, cwd=cwd, stdin=stdin,
                      cancel=getattr(args, "_cancel", None), imports_done=getattr(args, "_imports_done", None))
    finally:
        detach()
        reporter.close()


def _internal(reporter, exc: BaseException) -> int:
    import traceback

    reporter.log("error", f"internal error: {type(exc).__name__}: {exc}",
                 {"error": type(exc).__name__, "exit_code": EXIT_INTERNAL})
    reporter.log("debug", "".join(traceback.format_exception(exc)).rstrip())
    reporter.log("info", "hint: this is a bug in mason; please report it with the output of -v=debug")
    return EXIT_INTERNAL


def settings_work_dir(parsed, cwd) -> str | None:
    """The --work-dir (or --kaniko-dir) as given, for messages."""
    for name in ("work-dir", "kaniko-dir"):
        if name in parsed.given and parsed[name]:
            return str(parsed[name])
    return None


def _attach_registry_log(reporter, verbosity: str):
    """The registry client's own log goes to the build's output: at info its notices (retries, a
    local registry reached over plain HTTP), at debug/trace everything (requests, token fetches).
    That logger redacts credentials itself (``mason.registry.redact``); the reliability suite
    greps this output for them. Returns the function that detaches it."""
    import logging

    if verbosity not in ("info", "debug", "trace"):
        return lambda: None
    threshold = logging.INFO if verbosity == "info" else logging.DEBUG

    class ToReporter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            level = "debug" if record.levelno < logging.INFO else "info" if record.levelno < logging.WARNING \
                else "warn"
            reporter.log(level, f"registry: {record.getMessage()}")

    logger = logging.getLogger("mason.registry")
    handler = ToReporter(threshold)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(threshold, logger.level or logging.WARNING))

    def detach() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return detach


def _build(parsed, settings, reporter, executor, *, env, cwd, stdin, cancel=None, imports_done=None) -> int:
    from mason.executor.events import Info
    from mason.cli.build_mapping import build_options, open_scoped_context
    from mason.cli.digest_files import write_digest_files
    from mason.cli.render.logline import enabled
    from mason.cli.render.summary import summary_lines, write_metadata_file
    from mason.errors import MasonError
    from mason.tls import TlsTrust

    try:
        tls = TlsTrust.from_env(env)    # once per build: every HTTPS client below trusts it
        with open_scoped_context(parsed, cwd=cwd, env=env, stdin=stdin, tls=tls) as context:
            mapped = build_options(parsed, context.root, env=env, cwd=cwd, stdin=stdin, tls=tls,
                                   context_dockerfile=context.dockerfile)
            for note in mapped.notes:
                reporter.emit(note)
            run_build = executor or _default_executor()
            if imports_done is not None:
                imports_done()
            if cancel is not None and executor is None:   # set by the CLI's signal handler
                import functools

                run_build = functools.partial(run_build, cancel=cancel)
            if mapped.platforms:
                from mason.executor.multiplatform import run_multi_platform

                result = run_multi_platform(mapped.options, mapped.platforms, reporter=reporter, env=env,
                                            build=run_build)
            else:
                result = run_build(mapped.options, reporter=reporter, env=env)
        write_digest_files(mapped.options, result.image_digest)
        if settings.metadata_file is not None:
            write_metadata_file(settings.metadata_file, result)
    except MasonError as exc:
        source = exc.source
        reporter.log("error", str(exc), {"error": type(exc).__name__, "exit_code": exc.exit_code,
                                         "location": source.to_dict() if source else None, "hint": exc.hint})
        if exc.hint:
            reporter.log("info", f"hint: {exc.hint}")
        return exc.exit_code
    except (KeyboardInterrupt, SystemExit):
        raise
    except OSError as exc:
        if exc.errno not in _FULL:
            return _internal(reporter, exc)
        # The filesystem, not mason: say where and what to do (exit 1, a build error).
        where = settings_work_dir(parsed, cwd) or "the temporary directory"
        reporter.log("error", f"no space left on device while building ({exc.strerror}"
                              f"{': ' + exc.filename if exc.filename else ''}); the work dir is under {where}",
                     {"error": "OSError", "exit_code": 1})
        reporter.log("info", "hint: free space there, or point --work-dir (and --cache-dir) at a larger filesystem")
        return 1
    except Exception as exc:  # a bug in mason: say so, with the traceback at debug level
        return _internal(reporter, exc)
    if enabled("info", settings.verbosity):
        if settings.log_format == "json":
            from mason.cli.render.summary import metadata

            reporter.log("info", "build summary", {"summary": metadata(result)})
        else:
            for line in summary_lines(result):
                reporter.emit(Info(line))
    return 0
