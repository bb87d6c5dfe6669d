"""The parse tree: directives, lines, continuations, heredocs, per-instruction splitting."""

import pytest

from mason.dockerfile import parse
from mason.errors import DockerfileError


def nodes(text):
    return parse(text).nodes


def one(text):
    (node,) = nodes(text)
    return node


# -- directives ---------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("# syntax=docker/dockerfile:1\nFROM a\n", {"syntax": "docker/dockerfile:1"}),
    ("# SYNTAX = x \n#Escape=`\nFROM a\n", {"syntax": "x", "escape": "`"}),
    ("#check=skip=all\nFROM a\n", {"check": "skip=all"}),
    ("FROM a\n# escape=`\n", {}),
    ("# hello\n# escape=`\nFROM a\n", {}),
    ("\n# escape=`\nFROM a\n", {}),
    ("# unknown=1\n# escape=`\nFROM a\n", {}),
    ("  # escape=`\nFROM a\n", {"escape": "`"}),
])
def test_directives(text, expected):
    assert dict(parse(text).directives) == expected


@pytest.mark.parametrize("text,message", [
    ("# escape=`\n# escape=\\\nFROM a\n", "only one escape parser directive"),
    ("# syntax=a\n# SYNTAX=b\nFROM a\n", "only one syntax parser directive"),
    ("# escape=x\nFROM a\n", "invalid escape token"),
])
def test_directive_errors(text, message):
    with pytest.raises(DockerfileError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.line is not None


def test_escape_backtick_changes_continuation():
    tree = parse("# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo x\n")
    assert tree.escape == "`"
    assert tree.nodes[1].args == ("dir c:\\   && echo x",)


# -- lines ----------------------------------------------------------------------------------
def test_bom_crlf_and_leading_whitespace():
    tree = parse("\ufeffFROM a\r\n   RUN echo hi\r\n")
    assert [n.cmd for n in tree.nodes] == ["from", "run"]
    assert tree.nodes[1].args == ("echo hi",)


def test_continuations_with_comments_and_empty_lines():
    tree = parse("FROM a\nRUN echo a \\\n# comment\n\n    b \\\n  c\nRUN x\n")
    run = tree.nodes[1]
    assert run.args == ("echo a     b   c",)
    assert (run.location.start_line, run.location.end_line) == (2, 6)
    assert tree.nodes[2].location.start_line == 7
    assert [w.rule for w in tree.warnings] == ["NoEmptyContinuation"]


def test_continuation_at_end_of_file():
    assert one("FROM a \\").args == ("a",)


def test_escaped_escape_is_not_a_continuation_when_alone():
    tree = parse("FROM a\nRUN echo \\\\\nRUN b\n")
    # BuildKit's regex: an escape preceded by a non-escape char continues; "\\\\" ends in
    # an escape preceded by an escape, so the line stands alone.
    assert [n.cmd for n in tree.nodes] == ["from", "run", "run"]


def test_instruction_names_case_insensitive():
    assert [n.cmd for n in nodes("from a\nRuN x\nCoPy a b\n")] == ["from", "run", "copy"]


def test_empty_file_is_an_error():
    with pytest.raises(DockerfileError, match="file with no instructions"):
        parse("# just a comment\n\n")


# -- exec vs shell form -----------------------------------------------------------------------
@pytest.mark.parametrize("line,args,is_json", [
    ('CMD ["a", "b c"]', ("a", "b c"), True),
    ('CMD ["a"] trailing', ('["a"] trailing',), False),   # text after the array: shell form
    ('CMD ["a"]  ', ("a",), True),
    ("CMD [ \"a\" ,\"b\"]", ("a", "b"), True),
    ("CMD [a, b]", ("[a, b]",), False),
    ("CMD ['a']", ("['a']",), False),
    ('CMD ["a"', ('["a"',), False),
    ("CMD echo [x]", ("echo [x]",), False),
    ("CMD", (), False),
    ('CMD []', (), True),
    ('RUN ["sh", "-c", "echo $X"]', ("sh", "-c", "echo $X"), True),
    ('COPY ["a b", "/c"]', ("a b", "/c"), True),
    ("COPY a  b\t/c", ("a", "b", "/c"), False),
    ('VOLUME ["/a", "/b"]', ("/a", "/b"), True),
    ("VOLUME /a /b", ("/a", "/b"), False),
    ("EXPOSE 80/tcp 53/udp", ("80/tcp", "53/udp"), False),
    ("USER app:app", ("app:app",), False),
    ("WORKDIR /a b", ("/a b",), False),
    ("HEALTHCHECK CMD curl -f x", ("CMD", "curl -f x"), False),
    ('HEALTHCHECK CMD ["curl", "x"]', ("CMD", "curl", "x"), True),
    ("HEALTHCHECK NONE", ("NONE",), False),
    ("ARG a=1 b c='x y'", ("a=1", "b", "c='x y'"), False),
    ("FROM a AS b", ("a", "AS", "b"), False),
])
def test_argument_splitting(line, args, is_json):
    node = one(line)
    assert node.args == args
    assert node.json is is_json


def test_json_array_of_non_strings_is_an_error():
    with pytest.raises(DockerfileError, match="arrays must be comprised of strings only"):
        parse('CMD ["a", 1]')


# -- flags ------------------------------------------------------------------------------------
@pytest.mark.parametrize("line,flags,args", [
    ("COPY --from=build --chown=1:1 a b", ("--from=build", "--chown=1:1"), ("a", "b")),
    ("COPY --link a b", ("--link",), ("a", "b")),
    ('RUN --mount="type=cache,target=/x" echo', ("--mount=type=cache,target=/x",), ("echo",)),
    ("RUN -- --notaflag", (), ("--notaflag",)),
    ("RUN --network=none -- --x", ("--network=none",), ("--x",)),
    ("RUN echo --not-a-flag", (), ("echo --not-a-flag",)),
    ("FROM --platform=$BUILDPLATFORM a", ("--platform=$BUILDPLATFORM",), ("a",)),
])
def test_flags_are_raw(line, flags, args):
    node = one(line)
    assert node.flags == flags
    assert node.args == args


# -- ENV / LABEL --------------------------------------------------------------------------------
@pytest.mark.parametrize("line,pairs", [
    ("ENV a=1", [("a", "1", "=")]),
    ('ENV a="x y" b=\'z\' c=d\\ e', [("a", '"x y"', "="), ("b", "'z'", "="), ("c", "d\\ e", "=")]),
    ("ENV key value with spaces", [("key", "value with spaces", "")]),
    ("ENV key=", [("key", "", "=")]),
    ('LABEL "com.example.vendor"="ACME" version=1.0', [('"com.example.vendor"', '"ACME"', "="), ("version", "1.0", "=")]),
    ("LABEL maintainer me", [("maintainer", "me", "")]),
])
def test_env_label_pairs(line, pairs):
    assert [(p.key, p.value, p.sep) for p in one(line).pairs] == pairs


@pytest.mark.parametrize("line,message", [
    ("ENV onlykey", "ENV must have two arguments"),
    ("ENV a=1 b", "can't find = in 'b'"),
    ("LABEL a=1 b", "can't find = in 'b'"),
])
def test_env_errors(line, message):
    with pytest.raises(DockerfileError) as info:
        parse("FROM x\n" + line)
    assert message in info.value.message
    assert info.value.line == 2


# -- heredocs ------------------------------------------------------------------------------------
def test_heredoc_run_script():
    node = nodes("FROM a\nRUN <<EOF\necho $HOME\nset -e\nEOF\nRUN after\n")[1]
    assert node.args == ("<<EOF",)
    (doc,) = node.heredocs
    assert (doc.name, doc.content, doc.expand, doc.chomp) == ("EOF", "echo $HOME\nset -e\n", True, False)
    assert (node.location.start_line, node.location.end_line) == (2, 5)


@pytest.mark.parametrize("marker,name,expand", [
    ("<<EOF", "EOF", True),
    ('<<"EOF"', "EOF", False),
    ("<<'EOF'", "EOF", False),
    ('<<E"O"F', "EOF", False),
    ("<<-EOF", "EOF", True),
])
def test_heredoc_markers(marker, name, expand):
    node = nodes(f"FROM a\nRUN {marker}\nx\n\t{name}\n{name}\n")[1]
    (doc,) = node.heredocs
    assert doc.name == name and doc.expand is expand
    if marker.startswith("<<-"):
        assert doc.content == "x\n" and doc.chomp
    else:
        assert doc.content == f"x\n\t{name}\n"


def test_heredoc_chomp_strips_tabs():
    node = nodes("FROM a\nCOPY <<-EOF /x\n\t\thello\n\tEOF\n")[1]
    assert node.heredocs[0].content == "\t\thello\n"
    assert node.heredocs[0].body() == "hello\n"


def test_several_heredocs_and_commands():
    tree = parse("FROM a\nRUN python3 <<PY && cat <<EOF2\nprint(1)\nPY\nplain\nEOF2\nCOPY <<A <<B /dest/\na\nA\nb\nB\n")
    run, copy = tree.nodes[1], tree.nodes[2]
    assert [(h.name, h.content) for h in run.heredocs] == [("PY", "print(1)\n"), ("EOF2", "plain\n")]
    assert [(h.name, h.content) for h in copy.heredocs] == [("A", "a\n"), ("B", "b\n")]
    assert copy.args == ("<<A", "<<B", "/dest/")


def test_heredoc_with_command_after_marker():
    node = nodes("FROM a\nRUN <<EOF bash\necho hi\nEOF\n")[1]
    assert node.args == ("<<EOF bash",) and node.heredocs[0].content == "echo hi\n"


def test_heredoc_not_in_json_form_or_other_instructions():
    tree = parse('FROM a\nRUN ["cat", "<<EOF"]\nENV a=<<EOF\nCMD cat <<EOF\n')
    assert all(not n.heredocs for n in tree.nodes)


def test_heredoc_crlf_content_kept_and_terminator_matched():
    node = nodes("FROM a\r\nRUN <<EOF\r\nx\r\nEOF\r\n")[1]
    assert node.heredocs[0].content == "x\r\n"


def test_unterminated_heredoc():
    with pytest.raises(DockerfileError) as info:
        parse("FROM a\nRUN <<EOF\necho\n")
    assert "unterminated heredoc" in info.value.message and info.value.line == 2


def test_onbuild_heredoc():
    node = nodes("FROM a\nONBUILD RUN <<EOF\necho\nEOF\n")[1]
    assert node.child.cmd == "run" and node.heredocs[0].content == "echo\n"


def test_to_json_shape():
    data = parse("# syntax=x\nFROM a\nENV k v\n").to_json()
    assert data["directives"] == {"syntax": "x"}
    env = data["instructions"][1]
    assert env["cmd"] == "env" and env["args"] == [["k", "v", ""]] and env["json"] is False
    assert env["start_line"] == 3 and env["original"] == "ENV k v" and env["flags"] == [] and env["heredocs"] == []


def test_overlong_line():
    with pytest.raises(DockerfileError, match="max allowed size"):
        parse("FROM a\nRUN " + "x" * 70000 + "\n")
