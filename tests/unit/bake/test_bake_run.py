"""``mason bake`` scheduling, overrides and output with a fake executor (real builds: tests/integration/dropin)."""

from __future__ import annotations

import argparse
import io
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mason.bake import parse_bake
from mason.bake.deps import with_inferred_dependencies
from mason.bake.overrides import apply_sets, expand_variables
from mason.cli import bake_cmd
from mason.errors import AuthError, BuildError, UsageError


@dataclass
class Result:
    image_digest: str
    config_digest: str = "sha256:" + "c" * 64
    pushed: list = field(default_factory=list)
    steps: list = field(default_factory=list)


class FakeExecutor:
    """Sleeps a little per build, records start/end order and the peak concurrency."""

    def __init__(self, fail: dict[str, Exception] | None = None, delay: float = 0.05,
                 hold: tuple[int, int] | None = None):
        self.fail = fail or {}
        self.delay = delay
        # (limit, total): each build waits until ``limit`` run at once or all ``total`` have
        # started, so the peak is reached whatever the machine's load (no sleep decides it)
        self.hold = hold
        self.started = 0
        self.changed = threading.Condition()
        self.events: list[tuple[str, str]] = []
        self.options = {}
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, options, *, reporter, env):
        name = options.context_dir.name
        with self.lock:
            self.events.append(("start", name))
            self.options[name] = options
            self.running += 1
            self.started += 1
            self.peak = max(self.peak, self.running)
        from mason.executor import events as ev
        reporter.emit(ev.Info(f"building {name}"))
        if self.hold is None:
            time.sleep(self.delay)
        else:
            limit, total = self.hold
            with self.changed:
                self.changed.notify_all()
                # the timeout only keeps a broken scheduler from hanging the suite
                self.changed.wait_for(lambda: self.running >= limit or self.started >= total, timeout=60)
        with self.lock:
            self.running -= 1
            self.events.append(("end", name))
        if name in self.fail:
            raise self.fail[name]
        digest = "sha256:" + name[0] * 64
        return Result(digest, pushed=[(d, digest) for d in options.destinations])


def write_bake(root: Path, images: dict[str, str], body: str) -> Path:
    """One directory per image (named after it) holding its Dockerfile; ``body`` is the bake file."""
    for name, dockerfile in images.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "Dockerfile").write_text(dockerfile)
    path = root / "mason.bake.yml"
    path.write_text(body)
    return path


def bake(root: Path, *argv: str, executor=None, env=None):
    parser = argparse.ArgumentParser()
    bake_cmd.configure(parser)
    err = io.StringIO()
    executor = executor or FakeExecutor()
    code = bake_cmd.run(parser.parse_args(list(argv)), executor=executor, env=env or {}, cwd=root, stderr=err)
    return code, err.getvalue(), executor


BODY = """\
version: 1
images:
  app:
    context: app
    destinations: [r.example/app:1]
  base:
    context: base
    destinations: [r.example/base:1]
  tool:
    context: tool
    destinations: [r.example/tool:1]
  extra:
    context: extra
    depends_on: [app]
    destinations: [r.example/extra:1]
"""
DOCKERFILES = {"app": "ARG BASE=r.example/base:1\nFROM ${BASE}\nRUN true\n",
               "base": "FROM busybox\n", "tool": "FROM busybox AS b\nFROM scratch\nCOPY --from=b /bin /bin\n",
               "extra": "FROM scratch\n"}


def order(events, what):
    return [n for kind, n in events if kind == what]


def test_from_lines_infer_dependencies_and_order(tmp_path):
    write_bake(tmp_path, DOCKERFILES, BODY)
    code, err, ex = bake(tmp_path, "--jobs", "4")
    assert code == 0, err
    ends = order(ex.events, "end")
    starts = order(ex.events, "start")
    assert starts.index("app") > ends.index("base")        # FROM ${BASE} names base's destination
    assert starts.index("extra") > ends.index("app")       # explicit depends_on
    assert ex.peak >= 2                                      # base and tool ran together
    assert "app: depends on base (its Dockerfile builds on their destination)" in err
    assert "[app]   INFO[" in err and "building app" in err
    summary = err[err.index("IMAGE  "):]
    assert "app    ok" in summary and "r.example/app:1@sha256:" + "a" * 64 in summary


def test_jobs_limits_concurrency(tmp_path):
    write_bake(tmp_path, {n: "FROM scratch\n" for n in "abcd"},
               "version: 1\nimages:\n" + "".join(f"  {n}: {{context: {n}, no_push: true}}\n" for n in "abcd"))
    _, _, ex = bake(tmp_path, "-j", "1", executor=FakeExecutor(hold=(1, 4)))
    assert ex.peak == 1
    _, _, ex = bake(tmp_path, "-j", "3", executor=FakeExecutor(hold=(3, 4)))
    assert ex.peak == 3


def test_failure_stops_dependents_not_others(tmp_path):
    write_bake(tmp_path, DOCKERFILES, BODY)
    ex = FakeExecutor(fail={"base": AuthError("no push access to r.example/base")})
    code, err, ex = bake(tmp_path, "--metadata-file", "meta.json", executor=ex)
    assert code == 3                                         # the registry/auth exit code
    assert set(order(ex.events, "start")) == {"base", "tool"}
    assert "app: skipped: it depends on base, which failed" in err
    assert "extra: skipped: it depends on base, which failed" in err
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["tool"]["status"] == "ok" and meta["tool"]["containerimage.digest"] == "sha256:" + "t" * 64
    assert meta["base"]["error"]["exit_code"] == 3 and meta["app"]["blocked_by"] == "base"


def test_internal_error_in_one_image_is_reported(tmp_path):
    write_bake(tmp_path, DOCKERFILES, BODY)
    code, err, _ = bake(tmp_path, executor=FakeExecutor(fail={"tool": RuntimeError("boom")}))
    assert code == 4 and "tool: failed after" in err and "RuntimeError: boom" in err


def test_set_and_variables(tmp_path):
    body = BODY.replace("r.example/tool:1", "\"${REG}/tool:$TAG\"")
    write_bake(tmp_path, DOCKERFILES, body)
    code, err, ex = bake(tmp_path, "--set", "tool.build_args.V=2", "--set", "*.labels.team=x",
                         "--set", "base.target=final", "--set", "extra.no_push=true",
                         env={"REG": "reg.example:5000", "TAG": "abc"})
    assert code == 0, err
    tool = ex.options["tool"]
    assert tool.destinations == ("reg.example:5000/tool:abc",)
    assert dict(tool.build_args) == {"V": "2"} and dict(tool.labels) == {"team": "x"}
    assert ex.options["base"].target == "final" and ex.options["extra"].no_push
    assert tool.dockerfile == tmp_path / "tool" / "Dockerfile"


@pytest.mark.parametrize("sets, message", [
    (["nope.target=x"], "no image 'nope'"),
    (["app.tagret=x"], "unknown key 'tagret'"),
    (["app.cache=maybe"], "cache must be true or false"),
    (["app"], "expected IMAGE.KEY=VALUE"),
    (["app.depends_on=ghost"], "depends on unknown image 'ghost'"),
])
def test_bad_set_is_refused(tmp_path, sets, message):
    bakefile = parse_bake(BODY, tmp_path / "mason.bake.yml")
    with pytest.raises(UsageError, match=message):
        with_inferred_dependencies(apply_sets(bakefile, sets))


def test_unset_variable_is_an_error(tmp_path):
    bakefile = parse_bake(BODY.replace("r.example/tool:1", "$REG/tool:1"), tmp_path / "mason.bake.yml")
    with pytest.raises(UsageError, match=r"image 'tool': destinations uses \$REG, which is not set"):
        expand_variables(bakefile, {})


def test_cycle_through_from_lines_is_refused(tmp_path):
    write_bake(tmp_path, {"a": "FROM r.example/b:1\n", "b": "FROM scratch\n"},
               "version: 1\nimages:\n  a: {context: a, destinations: [r.example/a:1]}\n"
               "  b: {context: b, destinations: [r.example/b:1], depends_on: [a]}\n")
    with pytest.raises(UsageError, match=r"dependency cycle \(depends_on and FROM lines\): a -> b -> a"):
        bake(tmp_path)


def test_json_log_lines_parse_and_name_the_image(tmp_path):
    write_bake(tmp_path, DOCKERFILES, BODY)
    code, err, _ = bake(tmp_path, "--log-format", "json")
    assert code == 0
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {"image": "app", "msg": "building app"}.items() <= next(
        r for r in records if r.get("msg") == "building app").items()
    assert any(r["image"] == "bake" and "summary" in r for r in records)
    assert "\x1b" not in err


def test_a_context_url_that_returns_a_dockerfile_is_built_from_it(tmp_path):
    """As ``mason build --context URL``: the URL's Dockerfile is built, whatever ``dockerfile`` says."""
    import http.server

    text = b"FROM scratch\nLABEL from=url\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):   # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen = {}

    class Reading(FakeExecutor):
        def __call__(self, options, *, reporter, env):
            seen["dockerfile"] = options.dockerfile.read_bytes()
            seen["context"] = sorted(p.name for p in options.context_dir.iterdir())
            return super().__call__(options, reporter=reporter, env=env)

    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/df"
        (tmp_path / "mason.bake.yml").write_text(f"version: 1\nimages:\n  app:\n    context: {url}\n"
                                                 "    dockerfile: other/Dockerfile\n    destinations: [r.example/app:1]\n")
        code, err, _ = bake(tmp_path, "--work-dir", str(tmp_path / "w"), executor=Reading())
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, err
    assert seen == {"dockerfile": text, "context": []}
