"""mountinfo parsing: escaped mount points must match the paths mason compares them with."""

from mason.sandbox import linux


def test_mount_points_decode_octal_escapes(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("22 27 0:21 / /proc rw - proc proc rw\n"
                    "90 27 0:50 / /work/a\\040dir/merged rw - overlay overlay rw\n"
                    "91 27 0:51 / /x\\134 rw - tmpfs tmpfs rw\n")
    assert linux.mount_points(str(info)) == ["/proc", "/work/a dir/merged", "/x\\"]
