"""USER resolution against the image's own /etc/passwd and /etc/group (never the host's)."""

import pytest

from mason.errors import BuildError
from mason.sandbox.users import ExecUser, resolve_owner, resolve_user

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
nohome:x:1001:1001::::
"""
GROUP = """root:x:0:
daemon:x:1:
app:x:1000:
staff:x:50:app,other
docker:x:999:app
"""


@pytest.fixture
def root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD)
    (tmp_path / "etc/group").write_text(GROUP)
    return tmp_path


@pytest.mark.parametrize("spec, expected", [
    # BuildKit's GetUser + runc's GetExecUser; the primary gid is always among the groups
    # (ensureAdditionalGids, CVE-2023-25173)
    ("", ExecUser(0, 0, (0,), "/root", "root")),             # looked up as uid 0
    ("root", ExecUser(0, 0, (0,), "/root", "root")),
    ("app", ExecUser(1000, 1000, (1000, 50, 999), "/home/app", "app")),
    ("app:staff", ExecUser(1000, 50, (50,), "/home/app", "app")),
    ("app:77", ExecUser(1000, 77, (77,), "/home/app", "app")),
    ("1000", ExecUser(1000, 1000, (1000, 50, 999), "/home/app", "app")),  # a uid in passwd: its entry
    ("1000:1000", ExecUser(1000, 1000, (1000,), "/home/app")),           # fast path, no lookup
    ("1000:staff", ExecUser(1000, 50, (50,), "/home/app", "app")),
    ("4242", ExecUser(4242, 0, (0,), "/root")),                # unknown uid: gid 0, HOME /root
    ("4242:4343", ExecUser(4242, 4343, (4343,), "/root")),
    ("nohome", ExecUser(1001, 1001, (1001,), "/root", "nohome")),
])
def test_resolution(root, spec, expected):
    assert resolve_user(root, spec) == expected


@pytest.mark.parametrize("spec, fragment", [
    ("ghost", "unable to find user ghost"),
    ("app:ghosts", "unable to find group ghosts"),
    ("app:", "empty group"),
    (":staff", "empty user"),
])
def test_unknown_names_are_clear_errors(root, spec, fragment):
    with pytest.raises(BuildError, match=fragment):
        resolve_user(root, spec)


def test_missing_passwd_for_name_is_an_error(tmp_path):
    with pytest.raises(BuildError, match="no /etc/passwd"):
        resolve_user(tmp_path, "app")
    assert resolve_user(tmp_path, "12") == ExecUser(12, 0, (0,), "/root")
    assert resolve_user(tmp_path, "") == ExecUser(0, 0, (0,), "/root")


def test_symlinked_passwd_cannot_reach_the_host(tmp_path):
    """An image whose /etc/passwd points at /etc/passwd of "the host" reads its own file."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "real").write_text("app:x:7:8::/h:/bin/sh\n")
    (tmp_path / "etc/passwd").symlink_to("/../../../../real")
    assert resolve_user(tmp_path, "app") == ExecUser(7, 8, (8,), "/h", "app")
    (tmp_path / "etc/passwd").unlink()
    (tmp_path / "etc/passwd").symlink_to("/etc/shadow")  # would be the host's without re-rooting
    with pytest.raises(BuildError, match="no /etc/passwd"):
        resolve_user(tmp_path, "root")


@pytest.mark.parametrize("spec, expected", [
    ("root", (0, 0)),
    ("1000", (1000, 1000)),          # a number alone is also the gid (llb.WithUser)
    ("4242", (4242, 4242)),
    ("app", (1000, 1000)),
    ("app:staff", (1000, 50)),
    ("daemon:77", (1, 77)),
    ("4242:root", (4242, 0)),
])
def test_file_owner_resolution(root, spec, expected):
    assert resolve_owner(root, spec) == expected


def test_file_owner_root_needs_no_user_database(tmp_path):
    """FROM scratch + USER root + WORKDIR builds in BuildKit: "root" is 0 without a lookup."""
    assert resolve_owner(tmp_path, "root") == (0, 0)
    assert resolve_owner(tmp_path, "root:root") == (0, 0)
    with pytest.raises(BuildError, match="no /etc/passwd"):
        resolve_owner(tmp_path, "app")
