"""Resolving a Dockerfile ``USER`` against the image's own ``/etc/passwd`` and ``/etc/group``.

Never the host's: the files are read through :func:`mason.sandbox.rootfs.resolve`, so links in
the image cannot point at the host.  Semantics follow BuildKit (``executor/oci/user.go``) and
runc's ``GetExecUser``:

* ``""`` -> root (0:0).
* all-numeric ``uid`` or ``uid:gid`` -> taken as is, no lookup; a bare uid gets gid 0 and no
  supplementary groups (BuildKit's fast path), HOME from a passwd entry with that uid if any.
* ``name`` -> passwd entry (uid, gid, home); supplementary groups are the groups that list the
  user as a member.
* ``name:group`` / ``uid:group`` -> the explicit group (name or number) is the primary gid and no
  supplementary groups are added (runc: "supplementary groups only in the implicit form").
* HOME is the passwd entry's home, else ``/root``.

Unknown names raise :class:`~mason.errors.BuildError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mason.errors import BuildError
from mason.sandbox.rootfs import resolve


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary gids
    home: str
    name: str | None = None


@dataclass(frozen=True)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


def resolve_user(root: str | os.PathLike, spec: str) -> ExecUser:
    """Resolve a USER value for a RUN in ``root``."""
    spec = spec.strip()
    if not spec:
        return ExecUser(0, 0, (), _home_of(root, uid=0), name=None)
    user_part, has_group, group_part = spec.partition(":")
    if has_group and not group_part:
        raise BuildError(f"invalid USER {spec!r}: empty group after ':'")
    if not user_part:
        raise BuildError(f"invalid USER {spec!r}: empty user name")
    if user_part.isdigit() and (not has_group or group_part.isdigit()):
        uid = int(user_part)
        gid = int(group_part) if has_group else 0
        return ExecUser(uid, gid, (), _home_of(root, uid=uid), name=None)

    passwd = _read_passwd(root)
    entry = next((p for p in passwd if p.name == user_part), None)
    if entry is None and user_part.isdigit():
        entry = next((p for p in passwd if p.uid == int(user_part)), None)
        uid, gid, home, name = int(user_part), 0, entry.home if entry else "/root", entry.name if entry else None
    elif entry is None:
        raise BuildError(f"USER {spec!r}: unable to find user {user_part}: no matching entries in "
                         f"the image's /etc/passwd")
    else:
        uid, gid, home, name = entry.uid, entry.gid, entry.home or "/root", entry.name

    if has_group:
        gid = _group_id(root, group_part, spec)
        return ExecUser(uid, gid, (), home, name=name)
    groups: tuple[int, ...] = ()
    if name is not None and user_part == name:
        groups = tuple(g.gid for g in _read_group(root, required=False) if name in g.members)
    return ExecUser(uid, gid, groups, home, name=name)


def _group_id(root, group: str, spec: str) -> int:
    for g in _read_group(root, required=not group.isdigit()):
        if g.name == group:
            return g.gid
    if group.isdigit():
        return int(group)
    raise BuildError(f"USER {spec!r}: unable to find group {group}: no matching entries in the image's /etc/group")


def _home_of(root, uid: int) -> str:
    entry = next((p for p in _read_passwd(root, required=False) if p.uid == uid), None)
    return entry.home if entry and entry.home else "/root"


def _lines(root, path: str, required: bool) -> list[list[str]]:
    host = resolve(root, path)
    try:
        with open(host, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        if required:
            raise BuildError(f"the image has no {path}: cannot resolve a user or group name") from None
        return []
    except OSError as e:
        raise BuildError(f"cannot read the image's {path}: {e.strerror}") from e
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _read_passwd(root, required: bool = True) -> list[_Passwd]:
    out = []
    for f in _lines(root, "/etc/passwd", required):
        if len(f) >= 7 and f[2].isdigit() and f[3].isdigit():
            out.append(_Passwd(f[0], int(f[2]), int(f[3]), f[5]))
    return out


def _read_group(root, required: bool = True) -> list[_Group]:
    out = []
    for f in _lines(root, "/etc/group", required):
        if len(f) >= 4 and f[2].isdigit():
            out.append(_Group(f[0], int(f[2]), tuple(m for m in f[3].split(",") if m)))
    return out
