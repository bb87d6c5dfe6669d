"""The RUN's ssh agent socket forwards to the build's agent: OpenSSH's own ssh-add lists the
agent's key through it, with the socket owned and moded as the mount asks, and gone after."""

from __future__ import annotations

import os
import signal
import socket
import stat
import struct
import subprocess

import pytest

from mason.errors import BuildError
from mason.sandbox.agentproxy import AgentProxy, connect_path


@pytest.fixture
def agent(tmp_path):
    sock = tmp_path / "agent.sock"
    out = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], check=True, capture_output=True, text=True).stdout
    pid = int(out.split("SSH_AGENT_PID=", 1)[1].split(";", 1)[0])
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "proxy-test-key", "-f", str(key)],
                   check=True, capture_output=True)
    subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True,
                   env={**os.environ, "SSH_AUTH_SOCK": str(sock)})
    yield str(sock)
    os.kill(pid, signal.SIGTERM)


def test_ssh_add_lists_the_agent_key_through_the_proxy(tmp_path, agent):
    path = tmp_path / "p.sock"
    with AgentProxy(agent, str(path), uid=100, gid=102, mode=0o741):
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode) and (st.st_uid, st.st_gid) == (100, 102)
        assert stat.S_IMODE(st.st_mode) == 0o741
        listed = subprocess.run(["ssh-add", "-l"], capture_output=True, text=True,
                                env={**os.environ, "SSH_AUTH_SOCK": str(path)})
        assert listed.returncode == 0 and "proxy-test-key" in listed.stdout
    assert not path.exists()


def test_a_socket_deeper_than_a_socket_path_holds(tmp_path, agent):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "p.sock"
    assert len(str(path)) > 108
    with AgentProxy(agent, str(path)):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600          # BuildKit's default
        with socket.socket(socket.AF_UNIX) as client:
            connect_path(client, str(path))
            client.sendall(struct.pack(">IB", 1, 11))                # REQUEST_IDENTITIES
            length, kind = struct.unpack(">IB", client.recv(5))
            assert kind == 12 and length > 1                         # IDENTITIES_ANSWER


def test_a_socket_that_cannot_be_made_is_a_clear_error(tmp_path, agent):
    with pytest.raises(BuildError, match="ssh agent socket"):
        with AgentProxy(agent, str(tmp_path / "missing-dir" / "p.sock")):
            pass
