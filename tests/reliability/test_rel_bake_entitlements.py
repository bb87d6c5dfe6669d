"""``mason bake`` grants entitlements as ``mason build`` does, with buildx bake's model: an image
lists what its RUNs need (``entitlements: [network.host]``), ``--allow`` grants it, and an image
is given exactly what it lists. ``--run-host-loopback`` opens the builder's 127.0.0.1 (at
10.0.2.2) to every image's RUN. Real builds: a RUN fetches from a service on the builder's
loopback, so a missing grant fails it."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from tests.reliability.relhelpers import assert_no_traceback, cli_env, mason, text, work_dirs

pytestmark = pytest.mark.integration


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def _bake(tmp_path: Path, busybox_layout: str, images: dict[str, tuple[str, list[str]]], *flags: str):
    """``images``: name -> (RUN line, entitlements listed)."""
    body = ["version: 1", "images:"]
    for name, (run, listed) in images.items():
        (tmp_path / name).mkdir(exist_ok=True)
        (tmp_path / name / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\n{run}\n")
        body += [f"  {name}:", f"    context: {name}", "    no_push: true"]
        if listed:
            body.append(f"    entitlements: [{', '.join(listed)}]")
    (tmp_path / "mason.bake.yml").write_text("\n".join(body) + "\n")
    proc = mason("bake", "--work-dir", str(tmp_path / "work"), *flags, cwd=str(tmp_path), env=cli_env())
    assert_no_traceback(proc)
    return proc.returncode, text(proc)


def _fetch(url: str) -> str:
    return f"RUN timeout 10 wget -q -O /dev/null {url}"


def test_listed_and_allowed_entitlements_are_granted(tmp_path, busybox_layout, loopback_port):
    images = {"hostnet": ("RUN --network=host timeout 10 wget -q -O /dev/null "
                          f"http://127.0.0.1:{loopback_port}/", ["network.host"]),
              "gateway": (_fetch(f"http://10.0.2.2:{loopback_port}/"), [])}
    code, out = _bake(tmp_path, busybox_layout, images, "--allow", "network.host", "--run-host-loopback")
    assert code == 0, out[-3000:]


def test_a_listed_entitlement_not_allowed_is_refused_before_any_build(tmp_path, busybox_layout, loopback_port):
    images = {"hostnet": ("RUN --network=host true", ["network.host"]),
              "insecure": ("RUN --security=insecure true", ["security.insecure"]),
              "plain": ("RUN true", [])}
    code, out = _bake(tmp_path, busybox_layout, images, "--allow", "network.host")
    assert code == 2, out[-3000:]
    assert "image 'insecure' requires entitlement 'security.insecure'" in out, out[-3000:]
    assert "--allow security.insecure" in out and "hostnet" not in out.split("requires")[0]
    assert work_dirs(tmp_path / "work") == [] and "building" not in out.lower()


def test_an_image_gets_only_what_it_lists(tmp_path, busybox_layout, loopback_port):
    """``--allow network.host`` grants it to the image listing it, not to its neighbour; and
    without ``--run-host-loopback`` the builder's loopback stays closed."""
    images = {"lister": ("RUN --network=host true", ["network.host"]),
              "other": ("RUN --network=host true", []),
              "gateway": (_fetch(f"http://10.0.2.2:{loopback_port}/"), [])}
    code, out = _bake(tmp_path, busybox_layout, images, "--allow", "network.host")
    assert code != 0, out[-3000:]
    failed = {line.split(": failed")[0].split()[-1]: line for line in out.splitlines() if ": failed after" in line}
    assert set(failed) == {"other", "gateway"}, out[-3000:]      # lister was built
    assert "other/Dockerfile:2: RUN --network=host needs the network.host entitlement" in failed["other"]
    assert "10.0.2.2" in failed["gateway"] and "exited with code" in failed["gateway"], out[-3000:]
