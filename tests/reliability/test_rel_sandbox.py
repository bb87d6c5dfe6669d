"""A hostile RUN against the sandbox: what BuildKit gives a RUN and no more.

Each build copies a static probe (tests/support/sbxprobe.c) into a busybox image and runs the
attacks of a hostile Dockerfile: read its capability sets and seccomp mode, make denied system
calls, write sysctls and ``core_pattern``, ``mknod`` + read ``/dev/kmsg``, sniff the builder's
loopback with an AF_PACKET socket, connect to a service on the builder's 127.0.0.1.  Results
come back as ``PROBE`` lines in the build output.  Needs root (namespaces), gcc and slirp4netns.
"""

from __future__ import annotations

import http.server
import os
import re
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.reliability.relhelpers import assert_no_traceback, cli_env, mason, text
from tests.support.probe import build_probe

DEFAULT_CAPS = "00000000a80425fb"
DENIED = ("unshare", "unshare-user", "mount", "keyctl", "add_key", "bpf", "ptrace-pid1", "kexec_load",
          "open_by_handle_at", "setns", "init_module", "perf_event_open", "userfaultfd", "clone-newnet",
          "vsock", "personality-other", "syslog")
ALLOWED = ("fork", "packet", "chroot", "personality-linux32")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the RUN sandbox needs root")


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    return build_probe(tmp_path_factory.mktemp("probe"))


def _build(tmp_path: Path, busybox_layout: str, probe: Path, body: str, *flags: str, expect: int = 0) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "sbxprobe").write_bytes(probe.read_bytes())
    os.chmod(ctx / "sbxprobe", 0o755)
    (ctx / "Dockerfile").write_text(f"FROM oci:{busybox_layout}\nCOPY sbxprobe /bin/sbxprobe\n{body}")
    proc = mason("build", "--context", str(ctx), "--no-push", "--work-dir", str(tmp_path / "work"), *flags,
                 env=cli_env())
    out = text(proc)
    assert_no_traceback(proc)
    assert proc.returncode == expect, out[-3000:]
    return out


def _probe_lines(out: str) -> dict[str, str]:
    """``PROBE key value`` lines -> {key: value}."""
    found = {}
    for line in out.splitlines():
        m = re.match(r"PROBE (\S+) ?(.*)$", line.strip())
        if m:
            found[m.group(1).rstrip(":")] = m.group(2).strip()
    return found


def _status(prefix: str) -> str:
    """A RUN command printing the capability and seccomp lines of /proc/self/status."""
    return ("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status"
            f" | while read k v; do echo PROBE {prefix}$k $v; done")


@pytest.fixture(scope="module")
def attacks(tmp_path_factory, busybox_layout, probe) -> dict[str, str]:
    """One build running every local attack (no server needed); its PROBE lines."""
    tmp = tmp_path_factory.mktemp("attacks")
    script = " ; ".join([
        _status(""),
        f"sbxprobe try {' '.join(DENIED + ALLOWED)} clone3 | while read k v; do echo PROBE try-$k $v; done",
        "echo PROBE netns $(readlink /proc/self/ns/net)",
        "(echo '|/tmp/x' > /proc/sys/kernel/core_pattern) 2>/dev/null; echo PROBE core_pattern-write $?",
        "sysctl -w net.ipv4.ip_forward=1 >/dev/null 2>&1; echo PROBE sysctl-ip_forward $?",
        "sysctl -w fs.protected_symlinks=0 >/dev/null 2>&1; echo PROBE sysctl-protected_symlinks $?",
        "(echo h > /proc/sysrq-trigger) 2>/dev/null; echo PROBE sysrq-write $?",
        "(echo x > /sys/kernel/uevent_helper) 2>/dev/null; echo PROBE sys-write $?",
        "echo PROBE keys-bytes $(cat /proc/keys | wc -c)",
        "echo PROBE timer_list-bytes $(cat /proc/timer_list 2>/dev/null | wc -c)",
        "echo PROBE acpi-entries $(ls -A /proc/acpi 2>/dev/null | wc -l)",
        "mknod /dev/kmsg c 1 11; echo PROBE mknod-dev $?",
        "head -c 64 /dev/kmsg >/dev/null 2>&1; echo PROBE read-dev-kmsg $?",
        "mknod /kmsg c 1 11; head -c 64 /kmsg >/dev/null 2>&1; echo PROBE read-root-kmsg $?; rm -f /kmsg",
        "head -c 8 /dev/urandom | wc -c | sed 's/^/PROBE urandom-bytes /'",
        "echo x > /dev/null; echo PROBE dev-null-write $?",
        "chown 1000:1000 /tmp && chown 0:0 /tmp; echo PROBE chown $?",
    ])
    body = f"RUN {script}\nUSER 1000:1000\nRUN {_status('app-')}\n"
    return _probe_lines(_build(tmp, busybox_layout, probe, body))


def test_run_gets_the_default_capability_set_and_seccomp(attacks):
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert attacks[key] == DEFAULT_CAPS, (key, attacks)
    assert attacks["CapInh"] == attacks["CapAmb"] == "0000000000000000"
    assert attacks["NoNewPrivs"] == "0", "BuildKit does not set no_new_privs (setuid binaries work)"
    assert attacks["Seccomp"] == "2"
    # another user: nothing effective, the same bounding set (as docker run --user)
    assert attacks["app-CapEff"] == attacks["app-CapPrm"] == "0000000000000000"
    assert attacks["app-CapBnd"] == DEFAULT_CAPS
    assert attacks["app-Seccomp"] == "2"


def test_denied_system_calls_fail_and_ordinary_ones_work(attacks):
    refused = {name: attacks.get(f"try-{name}") for name in DENIED}
    assert all(v == "errno=EPERM" for v in refused.values()), refused
    assert attacks["try-clone3"] == "errno=ENOSYS", "Docker's answer: libc falls back to clone"
    assert {name: attacks.get(f"try-{name}") for name in ALLOWED} == {name: "ok" for name in ALLOWED}
    assert attacks["chown"] == "0" and attacks["urandom-bytes"] == "8" and attacks["dev-null-write"] == "0"


def test_proc_and_sys_are_masked_and_read_only(attacks):
    assert attacks["core_pattern-write"] != "0"
    assert attacks["sysctl-ip_forward"] != "0"
    assert attacks["sysctl-protected_symlinks"] != "0"
    assert attacks["sysrq-write"] != "0"
    assert attacks["sys-write"] != "0"
    assert attacks["keys-bytes"] == "0" and attacks["timer_list-bytes"] == "0"
    assert attacks["acpi-entries"] == "0"


def test_device_nodes_beyond_the_standard_set_do_not_open(attacks):
    assert attacks["mknod-dev"] == "0", "CAP_MKNOD is in Docker's set: mknod itself works"
    assert attacks["read-dev-kmsg"] != "0"
    assert attacks["read-root-kmsg"] != "0"


def test_run_has_a_network_namespace_of_its_own(attacks):
    assert attacks["netns"].startswith("net:[")
    assert attacks["netns"] != os.readlink("/proc/self/ns/net")


class _Secret(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"host-only service\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_service():
    """A service on the builder's 127.0.0.1 and a client sending it a bearer token in a loop
    (what mason's own registry traffic looks like to a sniffer)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Secret)
    stop = threading.Event()
    token = "sbxprobe-token-7f3a9c"

    def chatter():
        while not stop.wait(0.05):
            req = urllib.request.Request(f"http://127.0.0.1:{server.server_port}/v2/",
                                         headers={"Authorization": f"Bearer {token}"})
            try:
                urllib.request.urlopen(req, timeout=2).read()
            except OSError:
                pass

    threads = [threading.Thread(target=server.serve_forever, daemon=True), threading.Thread(target=chatter, daemon=True)]
    for t in threads:
        t.start()
    yield server.server_port, token
    stop.set()
    server.shutdown()
    server.server_close()


def _fetch(url: str, key: str) -> str:
    return f"timeout 10 wget -q -O /dev/null {url} 2>/dev/null; echo PROBE {key} $?"


def test_run_cannot_sniff_or_reach_the_builders_loopback(tmp_path, busybox_layout, probe, loopback_service):
    port, token = loopback_service
    body = ("RUN sbxprobe sniff " + token + " 3 | sed 's/^/PROBE sniff-/' ; "
            + _fetch(f"http://127.0.0.1:{port}/", "lo") + " ; "
            + _fetch(f"http://10.0.2.2:{port}/", "gateway") + "\n")
    found = _probe_lines(_build(tmp_path, busybox_layout, probe, body))
    assert found.get("sniff-socket") == "ok", found  # CAP_NET_RAW, as in Docker: in its own namespace
    assert "sniff-seen" not in found and "sniff-not" in found, found
    assert found["lo"] != "0" and found["gateway"] != "0", found


def test_host_loopback_option_opens_the_gateway_only(tmp_path, busybox_layout, probe, loopback_service):
    port, _ = loopback_service
    body = "RUN " + _fetch(f"http://10.0.2.2:{port}/", "gateway") + " ; " + _fetch(f"http://127.0.0.1:{port}/", "lo") + "\n"
    found = _probe_lines(_build(tmp_path, busybox_layout, probe, body, "--run-host-loopback"))
    assert found == {"gateway": "0", "lo": "1"}, found


def test_network_host_needs_its_entitlement(tmp_path, busybox_layout, probe, loopback_service):
    port, _ = loopback_service
    body = "RUN --network=host " + _fetch(f"http://127.0.0.1:{port}/", "lo") + "\n"
    out = _build(tmp_path, busybox_layout, probe, body, expect=2)
    assert "Dockerfile:3" in out and "network.host" in out and "--allow network.host" in out
    found = _probe_lines(_build(tmp_path, busybox_layout, probe, body, "--allow", "network.host"))
    assert found == {"lo": "0"}


def test_security_insecure_needs_its_entitlement(tmp_path, busybox_layout, probe):
    body = f"RUN --security=insecure {_status('')}\n"
    out = _build(tmp_path, busybox_layout, probe, body, expect=2)
    assert "Dockerfile:3" in out and "security.insecure" in out
    found = _probe_lines(_build(tmp_path, busybox_layout, probe, body, "--allow=security.insecure"))
    assert found["Seccomp"] == "0" and int(found["CapEff"], 16) & (1 << 21), found  # CAP_SYS_ADMIN


def test_unknown_entitlement_is_a_usage_error(tmp_path, busybox_layout, probe):
    out = _build(tmp_path, busybox_layout, probe, "RUN true\n", "--allow", "device", expect=2)
    assert "--allow=device" in out and "unknown entitlement" in out


def test_chroot_mode_applies_the_capability_set_and_seccomp(tmp_path, busybox_layout, probe):
    body = "RUN sbxprobe status | sed 's/^/PROBE /' ; sbxprobe try unshare keyctl mount | while read k v; do echo PROBE try-$k $v; done\n"
    found = _probe_lines(_build(tmp_path, busybox_layout, probe, body, "--isolation=chroot"))
    assert found["CapEff"] == found["CapBnd"] == DEFAULT_CAPS, found
    assert found["Seccomp"] == "2" and found["NoNewPrivs"] == "0", found
    assert found["try-unshare"] == found["try-keyctl"] == found["try-mount"] == "errno=EPERM", found
