"""What a RUN may do to the kernel: BuildKit's defaults (``RUN --security=sandbox``), as one value.

BuildKit v0.11 builds each RUN's OCI spec from containerd's defaults plus
``oci.WithNewPrivileges``, so a RUN gets:

* the default capability set (bounding = effective = permitted, Docker's 14 capabilities
  ``00000000a80425fb``), nothing inheritable or ambient; a RUN as another user starts with none
  in effect (the kernel clears them on ``setuid``) but keeps the bounding set;
* ``no_new_privs`` **not** set (``WithNewPrivileges``: ``su``/``sudo``/setuid binaries work, as in
  ``docker build``);
* the default seccomp profile (:mod:`mason.sandbox.seccomp`);
* ``/proc`` with the masked paths below (an empty read-only tmpfs over directories,
  ``/dev/null`` over files) and the read-only paths below; ``/sys`` read-only;
* device nodes limited to the standard ``/dev`` set: containerd does it with the device cgroup;
  mason has no cgroup of its own, so every mount of a RUN but those nodes is ``nodev``
  (CAP_MKNOD stays, as in Docker: ``mknod`` works, opening the node fails).

``RUN --security=insecure`` (entitlement ``security.insecure``) is BuildKit's insecure mode:
all capabilities, no seccomp filter, nothing masked, ``/sys`` writable, device nodes usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mason.sandbox import seccomp

Security = Literal["sandbox", "insecure"]

CAPABILITIES = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
    "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

# containerd's defaultUnixCaps, which BuildKit and Docker give a RUN.
DEFAULT_CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                        "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
ALL_CAPABILITIES = (1 << (max(CAPABILITIES.values()) + 1)) - 1

MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def mask_of(names) -> int:
    return sum(1 << CAPABILITIES[n] for n in set(names))


@dataclass(frozen=True)
class Confinement:
    """The kernel-facing half of a RUN's sandbox (the network half is ``RunSpec.network``)."""

    security: Security
    capabilities: int               # bounding set; effective = permitted = this for uid 0
    seccomp_filter: bytes | None    # struct sock_filter[], or None: no filter
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    sysfs_readonly: bool
    nodev: bool                     # every mount but the standard /dev nodes is nodev

    def helper_plan(self, *, no_new_privs: bool = False, seccomp: bool = True) -> dict:
        """What the helper applies just before ``execve`` (JSON). ``seccomp=False`` when the
        runner cannot install a filter and the process already runs under one (chroot mode)."""
        return {"capabilities": self.capabilities, "no_new_privs": no_new_privs,
                "seccomp": self.seccomp_filter.hex() if (self.seccomp_filter and seccomp) else None}


def for_security(security: Security, machine: str | None = None) -> Confinement:
    if security == "insecure":
        return Confinement("insecure", ALL_CAPABILITIES, None, (), (), sysfs_readonly=False, nodev=False)
    return Confinement("sandbox", mask_of(DEFAULT_CAPABILITIES), seccomp.encode(seccomp.program(machine)),
                       MASKED_PATHS, READONLY_PATHS, sysfs_readonly=True, nodev=True)
