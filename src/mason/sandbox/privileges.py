"""The last steps of both sandbox helpers before ``execve``: seccomp, capabilities, user.

Loaded by path (like ``linux.py``) by ``nsinit`` and ``chrootinit``, which run as
``python -I -S`` without the mason package.  ``confine`` is
:meth:`mason.sandbox.confinement.Confinement.helper_plan`.

The order is runc's: the seccomp filter first, while the process still has CAP_SYS_ADMIN
(installing one without ``no_new_privs`` needs it, and BuildKit does not set ``no_new_privs``);
then the bounding set (PR_CAPBSET_DROP needs CAP_SETPCAP); then groups, gid and uid (``setuid``
to a non-root uid clears the effective and permitted sets, as for ``docker run --user``); then
effective = permitted = the wanted set, inheritable and ambient empty.  Every call after the
filter is one the filter allows.
"""

import errno
import os


def enter(linux, confine: dict, user: dict) -> None:
    wanted = confine["capabilities"]
    if confine.get("no_new_privs"):
        linux.prctl3(linux.PR_SET_NO_NEW_PRIVS, 1)
    if confine.get("seccomp"):
        linux.seccomp_filter(bytes.fromhex(confine["seccomp"]))
    for cap in range(64):
        if wanted & (1 << cap):
            continue
        try:
            linux.prctl3(linux.PR_CAPBSET_DROP, cap)
        except OSError as e:
            if e.errno == errno.EINVAL:
                break  # past the kernel's last capability
            raise
    os.setgroups(user["groups"])
    os.setgid(user["gid"])
    os.setuid(user["uid"])
    _, permitted, _ = linux.capget()
    keep = wanted & permitted
    linux.capset(keep, keep, 0)
    try:
        linux.prctl3(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as e:
        if e.errno != errno.EINVAL:  # kernels before 4.3 have no ambient set
            raise
