"""A real ssh agent for the cases that mount one (``ssh_agent: true``), as BuildKit's test
gives its build an agent holding a fresh RSA key: OpenSSH's ``ssh-agent`` on a socket in the
case's directory, with a key made by ``ssh-keygen`` and added by ``ssh-add``."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


class SshAgent:
    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "agent.sock"
        self.pid: int | None = None

    def start(self) -> "SshAgent":
        self.root.mkdir(parents=True)
        out = subprocess.run(["ssh-agent", "-s", "-a", str(self.socket)], check=True, capture_output=True,
                             text=True).stdout
        # "SSH_AGENT_PID=123; export SSH_AGENT_PID;"
        self.pid = int(out.split("SSH_AGENT_PID=", 1)[1].split(";", 1)[0])
        key = self.root / "key"
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)], check=True,
                       capture_output=True)
        subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True,
                       env={**os.environ, "SSH_AUTH_SOCK": str(self.socket)})
        return self

    def stop(self) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGTERM)
            self.pid = None
