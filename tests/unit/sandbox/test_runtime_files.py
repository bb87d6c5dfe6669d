"""``runtime_files`` (what host-root isolation must keep) covers what a build loads lazily.

libarchive and the native codecs are imported at their first use, after the isolation is
chosen; the files they map then (their own and shared libraries such as libpthread) must
already be among the paths the decision kept. Run in a fresh interpreter, so nothing else in
the test process has loaded them first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_PROBE = r"""
import json, sys
from mason.sandbox.container import mapped_files, runtime_files

lazy = ("zstandard", "isal", "libarchive")
assert not [m for m in lazy if m in sys.modules], "loaded at import"
kept = runtime_files()
from mason.tarfs.compress import load_codecs
from mason.tarfs.reader import libarchive

load_codecs()
libarchive()
files = sorted(mapped_files() | {m.__file__ for m in list(sys.modules.values())
                                  if getattr(m, "__file__", None)})
print(json.dumps({"kept": sorted(kept), "files": files}))
"""


def test_lazily_loaded_libraries_are_within_the_runtime_files():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    kept = got["kept"]

    def covered(path: str) -> bool:
        return any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept)

    missing = [f for f in got["files"] if not covered(os.path.realpath(f))]
    assert not missing
    assert any("libarchive" in f for f in got["files"])
    assert any("/zstandard/" in f for f in got["files"]) and any("/isal/" in f for f in got["files"])


_SHORTCUT = r"""
import json, os, sys
from types import SimpleNamespace
import mason.sandbox.container as container
from mason.executor.executor import _host_root_possible

os.geteuid = lambda: 0                            # as root ...
container.container_hint = lambda: "a test"      # ... in a container
before = container.mapped_files()
loose_before = container.runtime_roots(before)[1]
possible = _host_root_possible(SimpleNamespace(isolation="auto"))
loaded = any("libarchive" in f for f in container.mapped_files())
full = container.runtime_files()
imported = [m for m in ("libarchive", "zstandard", "isal") if m in sys.modules]
print(json.dumps({"loose_before": list(loose_before), "possible": possible, "loaded": loaded,
                  "imported": imported, "subset": sorted(before - full), "full_loose": list(container.runtime_roots(full)[1])}))
"""


def test_host_root_ruled_out_without_loading_libarchive():
    """The files mapped now are among the runtime files; when one is in a system directory,
    host-root is ruled out without loading libarchive, and the full walk agrees. The walk maps
    the lazy libraries to learn their files, without importing their Python side."""
    out = subprocess.run([sys.executable, "-c", _SHORTCUT], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    assert got["subset"] == []
    assert got["possible"] == (not got["loose_before"])
    if got["loose_before"]:
        assert got["full_loose"] and not got["loaded"]
    assert got["imported"] == []


_REFUSED = r"""
import json, sys
import mason.sandbox.container as container

container._dlopen_all = lambda objects: False       # as if dlopen refused one of them
files = container.runtime_files()
print(json.dumps({"imported": [m for m in ("libarchive", "zstandard", "isal") if m in sys.modules],
                  "libarchive_mapped": any("libarchive" in f for f in files)}))
"""


def test_what_dlopen_refuses_is_loaded_by_its_real_import():
    out = subprocess.run([sys.executable, "-c", _REFUSED], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    assert got == {"imported": ["libarchive", "zstandard", "isal"], "libarchive_mapped": True}


def test_a_missing_libarchive_fails_as_libarchive_c_does():
    env = dict(os.environ, LIBARCHIVE="/nonexistent/libarchive.so.13")
    proc = subprocess.run([sys.executable, "-c", "import mason.sandbox.container as c; c.runtime_files()"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0 and "/nonexistent/libarchive.so.13" in proc.stderr
