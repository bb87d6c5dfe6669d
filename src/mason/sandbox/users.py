"""Resolving a Dockerfile ``USER`` against the image's own ``/etc/passwd`` and ``/etc/group``.

Never the host's: the files are read through :func:`mason.sandbox.rootfs.resolve`, so links in
the image cannot point at the host.  Semantics follow BuildKit (``executor/oci/user.go``) and
runc's ``GetExecUser``:

* ``""`` -> uid 0 looked up as below (root and its groups), 0:0 without a user database.
* ``uid:gid`` (numbers or ``root``) -> taken as is, no lookup (BuildKit's fast path).
* ``name`` or a bare ``uid`` -> the passwd entry with that name or uid (uid, gid, home);
  supplementary groups are the groups that list the entry's name as a member. A uid with no
  entry gets gid 0.
* the primary gid is always one of the groups (BuildKit's ``ensureAdditionalGids``, the fix
  of CVE-2023-25173).
* ``name:group`` / ``uid:group`` -> the explicit group (name or number) is the primary gid and no
  supplementary groups are added (runc: "supplementary groups only in the implicit form").
* HOME is the passwd entry's home, else ``/root``.

``resolve_owner`` is the other reading, for file owners (``--chown``, WORKDIR's directory).
Unknown names raise :class:`~mason.errors.BuildError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mason.errors import BuildError
from mason.sandbox.rootfs import resolve


@dataclass(frozen=True)
class ExecUser:
    """Who a RUN runs as: uid, gid, supplementary groups, home."""

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
        # BuildKit looks "0" up (root's supplementary groups, e.g. wheel) and falls back to
        # 0:0 when the image has no user database
        try:
            user = resolve_user(root, "0")
        except BuildError:
            return ExecUser(0, 0, (0,), "/root", name=None)
        return user
    user_part, has_group, group_part = spec.partition(":")
    if has_group and not group_part:
        raise BuildError(f"invalid USER {spec!r}: empty group after ':'")
    if not user_part:
        raise BuildError(f"invalid USER {spec!r}: empty user name")
    fast_uid, fast_gid = _numeric(user_part), _numeric(group_part)
    if has_group and fast_uid is not None and fast_gid is not None:
        return ExecUser(fast_uid, fast_gid, (fast_gid,), _home_of(root, uid=fast_uid), name=None)

    passwd = _read_passwd(root, required=not user_part.isdigit())
    entry = next((p for p in passwd if p.name == user_part or str(p.uid) == user_part), None)
    if entry is None and user_part.isdigit():
        uid, gid, home, name = int(user_part), 0, "/root", None
    elif entry is None:
        raise BuildError(f"USER {spec!r}: unable to find user {user_part}: no matching entries in "
                         f"the image's /etc/passwd")
    else:
        uid, gid, home, name = entry.uid, entry.gid, entry.home or "/root", entry.name

    groups: tuple[int, ...] = ()
    if has_group:
        gid = _group_id(root, group_part, spec)
    elif name is not None:
        # runc's GetExecUser: a user found in passwd (by name or uid) gets the groups that list it
        groups = tuple(g.gid for g in _read_group(root, required=False) if name in g.members)
    # BuildKit's ensureAdditionalGids: the primary group is always among the process's groups
    if gid not in groups:
        groups = (gid, *groups)
    return ExecUser(uid, gid, groups, home, name=name)


def resolve_owner(root: str | os.PathLike, spec: str) -> tuple[int, int]:
    """``uid, gid`` for a file owner given as ``user[:group]`` (COPY/ADD ``--chown``, the
    directory WORKDIR creates for USER), as BuildKit's file operations read it: ``root`` and
    numbers are taken as they are (a number alone is also the gid), names are looked up in the
    image's own ``/etc/passwd`` (a user name alone gets its primary group) and ``/etc/group``."""
    user_part, has_group, group_part = spec.strip().partition(":")
    uid = _numeric(user_part)
    if uid is not None:
        gid = uid
    else:
        entry = next((p for p in _read_passwd(root) if p.name == user_part), None)
        if entry is None:
            raise BuildError(f"unable to find user {user_part}: no matching entries in the image's /etc/passwd")
        uid, gid = entry.uid, entry.gid
    if has_group:
        group_id = _numeric(group_part)
        if group_id is not None:
            gid = group_id
        else:
            found = next((g for g in _read_group(root) if g.name == group_part), None)
            if found is None:
                raise BuildError(f"unable to find group {group_part}: no matching entries in the image's /etc/group")
            gid = found.gid
    return uid, gid


def _numeric(text: str) -> int | None:
    """BuildKit's parseUID: ``root`` is 0, digits are a number, anything else a name."""
    if text == "root":
        return 0
    return int(text) if text.isdigit() and int(text) < 2**32 else None


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
