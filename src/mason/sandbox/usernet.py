"""A RUN's own network: a network namespace with user-mode networking (slirp4netns).

A RUN in the builder's network namespace could sniff mason's registry traffic (CAP_NET_RAW is in
Docker's default set), bind the ports mason or a parallel build talks to, and reach every
service on the job's 127.0.0.1.  BuildKit gives each RUN a network namespace of its own (CNI or
its bridge); mason, daemonless and often root in a CI job's container, uses ``slirp4netns``:
a process in the *builder's* namespace that forwards the RUN's TCP/UDP through ordinary sockets
(a TAP device ``tap0``, 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3).  So the RUN sees only
its own interfaces; outbound connections leave from the builder like any of its own.

* ``--disable-host-loopback`` unless ``host_loopback``: the gateway 10.0.2.2 does not lead to the
  builder's 127.0.0.1 (the job's ``services:`` on localhost, a registry mason started …).
* ``--enable-sandbox --enable-seccomp``: slirp4netns parses the RUN's packets as root in the
  builder's namespace, so it confines itself (own mount namespace, capabilities dropped).
* Lifetime: ``--exit-fd`` is a pipe only mason holds: when mason closes it, or dies, slirp4netns
  exits. Nothing to clean up after a SIGKILL.

Chosen over the shared namespace with CAP_NET_RAW dropped by measurement (docs/sandbox.md):
~10 ms per RUN, 0.5-1.5 Gbit/s, no measurable cost on an apt download from the Debian mirror;
the shared namespace cannot keep a RUN from binding the builder's ports or reaching its loopback.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time

from mason.errors import BuildError, NotSupportedError

GATEWAY, DNS, ADDRESS = "10.0.2.2", "10.0.2.3", "10.0.2.100"
_READY_TIMEOUT = 15.0


def resolv_conf(host: bytes) -> bytes:
    """The RUN's resolv.conf: slirp4netns's DNS forwarder, the host's search and options lines
    (the host's own nameservers may be loopback addresses, unreachable from the RUN)."""
    keep = [line for line in host.decode("utf-8", "replace").splitlines()
            if line.split()[:1] in (["search"], ["domain"], ["options"])]
    return ("".join(f"{line}\n" for line in keep) + f"nameserver {DNS}\n").encode()


class UserNet:
    """``with UserNet(pid, host_loopback=False):`` slirp4netns attached to ``pid``'s network
    namespace, configured and ready when the block starts, gone when it ends."""

    def __init__(self, pid: int, *, host_loopback: bool = False):
        self.pid, self.host_loopback = pid, host_loopback
        self.proc: subprocess.Popen | None = None
        self._exit_w: int | None = None

    def __enter__(self) -> "UserNet":
        binary = shutil.which("slirp4netns")
        if binary is None:
            raise NotSupportedError("RUN's own network needs slirp4netns, which is not installed",
                                    hint="install it (apt-get install slirp4netns), or use RUN --network=none, "
                                         "or RUN --network=host with --allow network.host")
        self._log = tempfile.TemporaryFile()   # never a pipe nobody reads during a long RUN
        ready_r, ready_w = os.pipe()
        exit_r, self._exit_w = os.pipe()
        args = [binary, "--configure", "--mtu=65520", "--enable-sandbox", "--enable-seccomp",
                f"--ready-fd={ready_w}", f"--exit-fd={exit_r}"]
        if not self.host_loopback:
            args.append("--disable-host-loopback")
        try:
            self.proc = subprocess.Popen([*args, str(self.pid), "tap0"], pass_fds=(ready_w, exit_r),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._log, start_new_session=True, env={})
        finally:
            os.close(ready_w)
            os.close(exit_r)
        try:
            self._wait_ready(ready_r)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        finally:
            os.close(ready_r)
        return self

    def _wait_ready(self, ready_r: int) -> None:
        proc = self.proc
        assert proc is not None, "started by __enter__"
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BuildError(f"slirp4netns did not configure the RUN's network within {_READY_TIMEOUT:g}s")
            if select.select([ready_r], [], [], min(left, 0.5))[0]:
                if os.read(ready_r, 1):
                    return
                break  # EOF: it exited
            if proc.poll() is not None:
                break
        proc.wait()
        self._log.seek(0)
        err = self._log.read().decode("utf-8", "replace").strip().splitlines()
        raise BuildError("cannot set up the RUN's network: slirp4netns exited with "
                         f"{proc.returncode}" + (f": {'; '.join(err[-4:])}" if err else ""))

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._exit_w is not None:
            os.close(self._exit_w)   # slirp4netns's signal to exit
            self._exit_w = None
        if self.proc is not None:
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self._log.close()
