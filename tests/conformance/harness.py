"""Run one conformance case: write its context, build it with mason, check the image.

A case (one entry of a ``cases/*.yml`` list) is data only:

``name``            unique within its file
``buildkit``        the BuildKit frontend test it is ported from (moby/buildkit v0.11.6)
``dockerfile``      the Dockerfile; ``{base}`` / ``{base:TAG}`` name the busybox test image
                    (tags in ``bases.VARIANTS``), ``{bases}`` its layout
``dockerfile_name`` where to write it (default ``Dockerfile``); ``dockerfile_path`` passes it
                    explicitly as ``--dockerfile``
``files``           context files: path -> text, or a mapping with ``content``, ``mode``,
                    ``symlink`` (a target), ``dir: true``, ``tar`` (name -> text or ``{symlink: target}``, a tar file),
                    ``socket: true``
``args``, ``target``, ``options``  build arguments, ``--target``, other ``BuildOptions`` fields
``config``          expected fields of the image config's ``config`` object; a dotted key
                    reaches into a mapping (``Labels.foo``); ``null`` means absent or empty
``config_exact``    the whole ``config`` object, every field (nothing more, nothing less)
``history_exact``   every history entry, in order: ``created_by``, ``empty_layer``, ``comment``
``image``           expected top-level config fields (``os``, ``architecture``, ``created``…)
``expect``          path -> expected file: text (the exact content) or a mapping with
                    ``content``, ``contains``, ``mode`` (octal text), ``uid``, ``gid``,
                    ``type`` (file/dir/symlink), ``target``, ``mtime`` (seconds)
``history``         the stage's history entries (the last ones): ``contains``, ``empty_layer``
``history_lacks``   text no history entry's ``created_by`` may contain
``absent``          paths that must not exist in the image
``error``           text (or list of texts) the build's error message must contain
``serve``, ``git``  files and a git repository on the case's HTTP server (``served.py``);
                    ``{http}`` anywhere in the case is its URL, ``{ctx}`` the context directory
``cli``             build with ``mason build`` and these flags (``--context`` defaults to the
                    context directory; output, work dir, args, secrets and cache are added)
``secrets``         id -> value, for ``RUN --mount=type=secret``
``ssh_agent``       true: a real ssh-agent holding a fresh key is the build's ``default`` agent
``options.cache``   true: mason's layer cache, in the session's registry (a repository per case)
``rebuilds``        further builds of the same context: each may change it (``files``,
                    ``rename``, ``remove``) and its options (``options``, ``args``, ``cli``…),
                    and has its own expectations, plus ``same`` / ``differ`` (path -> the
                    earlier build, 0 the first, whose file it equals / differs from; a list
                    of builds for ``differ``) and
                    ``same_digest`` (that build's image digest)
``known_failure``   why mason does not match BuildKit yet: the case runs as a strict xfail,
                    so fixing it makes the suite fail until the marker is removed
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.conformance.agent import SshAgent
from tests.conformance.building import build_case, render
from tests.conformance.served import CaseServer

KINDS = {"file": stat.S_ISREG, "dir": stat.S_ISDIR, "symlink": stat.S_ISLNK}


def image_config(layout: Path) -> dict:
    """The config blob as stored, found through skopeo (an independent reader)."""
    manifest = json.loads(subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout}:latest"], check=True,
                                         capture_output=True, text=True).stdout)
    digest = manifest["config"]["digest"].split(":", 1)[1]
    return json.loads((layout / "blobs" / "sha256" / digest).read_bytes())


def unpack(layout: Path, dest: Path) -> Path:
    """The image's filesystem, unpacked by umoci (``raw unpack``: no runtime config, which
    would resolve USER against the image's /etc/passwd)."""
    dest.mkdir()
    subprocess.run(["umoci", "raw", "unpack", "--image", f"{layout}:latest", str(dest / "rootfs")], check=True,
                   capture_output=True)
    return dest / "rootfs"


def check_config(case: dict, config: dict) -> list[str]:
    problems = []
    inner = config.get("config") or {}
    for key, want in (case.get("config") or {}).items():
        got = (inner.get("Labels") or {}).get(key[7:]) if key.startswith("Labels.") else inner.get(key)
        if want is None:
            if got not in (None, "", [], {}):
                problems.append(f"config.{key}: want absent/empty, got {got!r}")
        elif got != want:
            problems.append(f"config.{key}: want {want!r}, got {got!r}")
    if case.get("history_lacks"):
        for entry in config.get("history") or ():
            if case["history_lacks"] in entry.get("created_by", ""):
                problems.append(f"history entry {entry['created_by']!r} names {case['history_lacks']!r}")
    if case.get("history"):
        # the last entries, after the base image's own
        got = (config.get("history") or [])[-len(case["history"]):]
        for want, entry in zip(case["history"], got):
            if want["contains"] not in entry.get("created_by", "") or \
                    bool(entry.get("empty_layer")) != want["empty_layer"]:
                problems.append(f"history entry {entry!r}: want {want!r}")
    if "config_exact" in case and inner != case["config_exact"]:
        problems.append(f"config: want exactly {case['config_exact']!r}, got {inner!r}")
    if "history_exact" in case:
        got = [{"created_by": h.get("created_by", ""), "empty_layer": bool(h.get("empty_layer"))}
               for h in config.get("history") or ()]
        want = [{"created_by": h["created_by"], "empty_layer": bool(h.get("empty_layer"))}
                for h in case["history_exact"]]
        if got != want:
            problems.append(f"history: want {want!r}, got {got!r}")
        for entry, spec in zip(config.get("history") or (), case["history_exact"]):
            if "comment" in spec and entry.get("comment") != spec["comment"]:
                problems.append(f"history entry {entry!r}: want comment {spec['comment']!r}")
    for key, want in (case.get("image") or {}).items():
        got = config.get(key)
        if got != want:
            problems.append(f"{key}: want {want!r}, got {got!r}")
    return problems


def check_files(case: dict, root: Path) -> list[str]:
    problems = []
    for name, want in (case.get("expect") or {}).items():
        path = root / name.lstrip("/")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            problems.append(f"{name}: missing")
            continue
        spec = {"content": want} if isinstance(want, str) else want
        kind = spec.get("type")
        if kind and not KINDS[kind](st.st_mode):
            problems.append(f"{name}: want a {kind}, mode {oct(st.st_mode)}")
        if "content" in spec or "contains" in spec:
            data = path.read_text() if stat.S_ISREG(st.st_mode) else None
            if "content" in spec and data != spec["content"]:
                problems.append(f"{name}: want {spec['content']!r}, got {data!r}")
            if "contains" in spec and (data is None or spec["contains"] not in data):
                problems.append(f"{name}: want it to contain {spec['contains']!r}, got {data!r}")
        if "mode" in spec and stat.S_IMODE(st.st_mode) != int(str(spec["mode"]), 8):
            problems.append(f"{name}: want mode {spec['mode']}, got {oct(stat.S_IMODE(st.st_mode))}")
        for field in ("uid", "gid"):
            if field in spec and getattr(st, f"st_{field}") != spec[field]:
                problems.append(f"{name}: want {field} {spec[field]}, got {getattr(st, f'st_{field}')}")
        if "mtime" in spec and int(st.st_mtime) != spec["mtime"]:
            problems.append(f"{name}: want mtime {spec['mtime']}, got {int(st.st_mtime)}")
        if "target" in spec and os.readlink(path) != spec["target"]:
            problems.append(f"{name}: want link to {spec['target']!r}, got {os.readlink(path)!r}")
    for name in case.get("absent") or ():
        if os.path.lexists(root / name.lstrip("/")):
            problems.append(f"{name}: should not exist")
    return problems


def check_error(wanted, error) -> list[str]:
    if error is None:
        return [f"the build succeeded; want an error containing {wanted!r}"]
    message = f"{error}" + (f" ({error.hint})" if getattr(error, "hint", None) else "")
    if hasattr(error, "location") and callable(error.location):
        message = f"{error.location()}: {message}"
    return [f"error {message!r} lacks {w!r}" for w in ([wanted] if isinstance(wanted, str) else wanted)
            if w not in message]


def substitute(value, change):
    """``value`` (a case, or part of one) with ``change`` applied to every text in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {substitute(k, change): substitute(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, change) for v in value]
    return value


# what a rebuild takes from the case unless it gives its own
BUILD_KEYS = ("options", "args", "secrets", "target", "cli", "dockerfile_path", "dockerfile_name")


def run_case(case: dict, tmp: Path, base_layout: str, registry_host: str | None = None) -> list[str]:
    """Every way the built image (or the error) differs from the case's expectations."""
    # the placeholders everywhere: in served files and git commits too
    case = substitute(case, lambda text: render(text, base_layout).replace("{ctx}", str(tmp / "ctx")))
    server = agent = None
    if case.get("serve") or case.get("git"):
        server = CaseServer(case, tmp / "served").start()
        case = substitute(case, lambda text: text.replace("{http}", server.url))
    try:
        if case.get("ssh_agent"):
            agent = SshAgent(tmp / "agent").start()
            case = {**case, "ssh_agent": str(agent.socket)}
        builds = [case] + [{"name": case["name"], **{k: case[k] for k in BUILD_KEYS if k in case}, **again}
                           for again in case.get("rebuilds") or ()]
        done: list[Build] = []
        problems = []
        for n, build in enumerate(builds):
            ctx = tmp / "ctx"
            if n:
                change_context(build, ctx, base_layout)
            layout, error = build_case(build, tmp, base_layout, n=n, registry_host=registry_host)
            done.append(Build(layout, tmp / f"unpacked-{n}"))
            found = check_build(build, done, error)
            problems += [f"build {n + 1}: {p}" if n else p for p in found]
        return problems
    finally:
        if server is not None:
            server.stop()
        if agent is not None:
            agent.stop()


class Build:
    """One build's output, unpacked on first use."""

    def __init__(self, layout: Path | None, dest: Path):
        self.layout, self.dest, self._root = layout, dest, None

    @property
    def root(self) -> Path:
        if self._root is None:
            self._root = unpack(self.layout, self.dest)
        return self._root

    def read(self, name: str) -> str | None:
        path = self.root / name.lstrip("/")
        return path.read_text() if path.is_file() else None

    def digest(self) -> str:
        return json.loads((self.layout / "index.json").read_text())["manifests"][0]["digest"]


def change_context(build: dict, ctx: Path, base_layout: str) -> None:
    """A rebuild's changes to the context: ``files`` written, ``rename`` old -> new, ``remove``."""
    for old, new in (build.get("rename") or {}).items():
        os.rename(ctx / old, ctx / new)
    for name in build.get("remove") or ():
        os.unlink(ctx / name)
    for name, text in (build.get("files") or {}).items():
        (ctx / name).write_text(render(text, base_layout))


def check_build(case: dict, done: list, error) -> list[str]:
    wanted = case.get("error")
    if wanted is not None:
        return check_error(wanted, error)
    if error is not None:
        return [f"the build failed: {error}"]
    this = done[-1]
    problems = check_config(case, image_config(this.layout))
    if case.get("expect") or case.get("absent"):
        problems += check_files(case, this.root)
    for name, n in (case.get("same") or {}).items():
        if this.read(name) is None or this.read(name) != done[n].read(name):
            problems.append(f"{name}: want the content of build {n + 1}'s ({done[n].read(name)!r}), "
                            f"got {this.read(name)!r}")
    for name, builds in (case.get("differ") or {}).items():
        for n in [builds] if isinstance(builds, int) else builds:
            if this.read(name) is None or this.read(name) == done[n].read(name):
                problems.append(f"{name}: want other content than build {n + 1}'s, got {this.read(name)!r}")
    if "same_digest" in case and this.digest() != done[case["same_digest"]].digest():
        problems.append(f"image {this.digest()}: want build {case['same_digest'] + 1}'s "
                        f"{done[case['same_digest']].digest()}")
    return problems
