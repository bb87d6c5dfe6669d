"""USER resolution against the image's own /etc/passwd and /etc/group (never the host's)."""

import pytest

from mason.errors import BuildError
from mason.sandbox.users import ExecUser, resolve_user

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
    ("", ExecUser(0, 0, (), "/root")),
    ("root", ExecUser(0, 0, (), "/root", "root")),
    ("app", ExecUser(1000, 1000, (50, 999), "/home/app", "app")),
    ("app:staff", ExecUser(1000, 50, (), "/home/app", "app")),
    ("app:77", ExecUser(1000, 77, (), "/home/app", "app")),
    ("1000", ExecUser(1000, 0, (), "/home/app")),           # BuildKit: bare uid -> gid 0
    ("1000:1000", ExecUser(1000, 1000, (), "/home/app")),
    ("1000:staff", ExecUser(1000, 50, (), "/home/app", "app")),
    ("4242", ExecUser(4242, 0, (), "/root")),                # unknown uid: HOME /root
    ("4242:4343", ExecUser(4242, 4343, (), "/root")),
    ("nohome", ExecUser(1001, 1001, (), "/root", "nohome")),
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
    assert resolve_user(tmp_path, "12") == ExecUser(12, 0, (), "/root")


def test_symlinked_passwd_cannot_reach_the_host(tmp_path):
    """An image whose /etc/passwd points at /etc/passwd of "the host" reads its own file."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "real").write_text("app:x:7:8::/h:/bin/sh\n")
    (tmp_path / "etc/passwd").symlink_to("/../../../../real")
    assert resolve_user(tmp_path, "app") == ExecUser(7, 8, (), "/h", "app")
    (tmp_path / "etc/passwd").unlink()
    (tmp_path / "etc/passwd").symlink_to("/etc/shadow")  # would be the host's without re-rooting
    with pytest.raises(BuildError, match="no /etc/passwd"):
        resolve_user(tmp_path, "root")
