"""``mason bake`` with real builds against the real registry, checked with skopeo and umoci."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def pulled_rootfs(registry, ref: str, dest: Path) -> Path:
    """Copy ``ref`` from the registry with skopeo and unpack it with umoci (independent tools)."""
    layout = dest / "layout"
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{registry.host}/{ref}",
                    f"oci:{layout}:latest"], check=True, capture_output=True)
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:latest", str(dest / "bundle")], check=True,
                   capture_output=True)
    return dest / "bundle" / "rootfs"


def test_bake_builds_in_order_in_parallel_and_isolates_images(tmp_path, registry_plain, busybox_layout):
    reg = registry_plain.host
    base = f"oci:{busybox_layout}:latest"
    files = {
        "base/Dockerfile": f"FROM {base}\nRUN echo base > /base.txt\n",
        "app/Dockerfile": "ARG REG\nFROM ${REG}/bake/base:1\nRUN cat /base.txt > /app.txt && echo app >> /app.txt\n",
        "other/Dockerfile": f"FROM {base}\nRUN ls / > /other.txt\n",
        "broken/Dockerfile": f"FROM {base}\nRUN echo partial > /partial.txt && exit 7\n",
        "child/Dockerfile": "ARG REG\nFROM ${REG}/bake/broken:1\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "mason.bake.yml").write_text(f"""\
version: 1
defaults:
  build_args: {{REG: "$REGISTRY"}}
images:
  app:    {{context: app, destinations: ["$REGISTRY/bake/app:1"]}}
  base:   {{context: base, destinations: ["$REGISTRY/bake/base:1"]}}
  other:  {{context: other, destinations: ["$REGISTRY/bake/other:1"]}}
  broken: {{context: broken, destinations: ["$REGISTRY/bake/broken:1"]}}
  child:  {{context: child, destinations: ["$REGISTRY/bake/child:1"]}}
""")
    env = {"PATH": os.environ["PATH"], "CI": "true", "REGISTRY": reg, "TMPDIR": str(tmp_path / "tmp"),
           "PYTHONPATH": str(REPO / "src"), "HOME": str(tmp_path)}
    (tmp_path / "tmp").mkdir()
    proc = subprocess.run([sys.executable, "-m", "mason", "bake", "--jobs", "2", "--insecure-registry", reg,
                           "--cache-dir", str(tmp_path / "cache"), "--metadata-file", "meta.json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    out = proc.stderr
    assert proc.returncode == 1, out                    # broken's RUN failed: a build error
    assert "app: depends on base" in out and "child: depends on broken" in out
    assert "child: skipped: it depends on broken, which failed" in out
    assert "broken: failed after" in out and "exited with code 7" in out
    assert "[broken] INFO[" in out and "[1/1] RUN echo partial" in out   # each image's own log, tagged
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert {n: m["status"] for n, m in meta.items()} == {
        "app": "ok", "base": "ok", "other": "ok", "broken": "failed", "child": "skipped"}

    app = pulled_rootfs(registry_plain, "bake/app:1", tmp_path / "app")
    assert (app / "app.txt").read_text() == "base\napp\n"   # built on the base just pushed
    other = pulled_rootfs(registry_plain, "bake/other:1", tmp_path / "other")
    listing = (other / "other.txt").read_text().split()
    assert "base.txt" not in listing and "app.txt" not in listing and "partial.txt" not in listing
    assert not (other / "base.txt").exists() and not (other / "app.txt").exists()
    assert meta["app"]["containerimage.digest"] == json.loads(subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{reg}/bake/app:1"], check=True,
        capture_output=True, text=True).stdout)["Digest"]
    for missing in ("broken", "child"):
        check = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{reg}/bake/{missing}:1"],
                               capture_output=True, text=True)
        assert check.returncode != 0
    assert list((tmp_path / "tmp").iterdir()) == []           # every build's work dir is gone
    assert any((tmp_path / "cache").iterdir())                 # the shared layer store was used
