"""A throwaway CNCF distribution registry on 127.0.0.1 (plain HTTP, free port, own storage)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .deps import BenchError

_CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """Context manager: starts the registry, ``host`` is "127.0.0.1:PORT"; stops it on exit."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.host = ""

    def __enter__(self) -> "Registry":
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        conf = self.workdir / "config.yml"
        conf.write_text(_CONFIG.format(root=self.workdir / "storage", port=port))
        log = open(self.workdir / "registry.log", "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(conf)], stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        self.host = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"docker-registry exited with {self.proc.returncode}; see {self.workdir/'registry.log'}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise BenchError(f"docker-registry on {self.host} did not answer /v2/ within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __exit__(self, *exc) -> None:
        self.stop()
