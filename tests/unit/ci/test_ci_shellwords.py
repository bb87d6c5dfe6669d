import pytest

from mason.ci.shellwords import split_commands
from mason.errors import UsageError


def argvs(text):
    return [c.argv for c in split_commands(text)]


def test_quotes_are_removed_and_expansions_kept():
    assert argvs("""a 'b c' "d $E" f\\ g""") == [["a", "b c", "d $E", "f g"]]


def test_operators_split_commands_and_pipes_are_marked():
    cmds = split_commands("a && b || c; d | e & f")
    assert [c.argv for c in cmds] == [["a"], ["b"], ["c"], ["d"], ["e"], ["f"]]
    assert [c.piped for c in cmds] == [False, False, False, True, False, False]
    assert cmds[4].background


def test_command_substitution_stays_in_its_word():
    text = '''echo "x$(printf "%s:%s" "$U" "$P" | base64 | tr -d '\\n')y" > /kaniko/.docker/config.json'''
    [cmd] = split_commands(text)
    assert cmd.argv[0] == "echo"
    assert "base64" in cmd.argv[1]
    assert cmd.redirects == [(">", "/kaniko/.docker/config.json")]
    assert cmd.stdout_redirected()


def test_fd_redirect_is_not_a_word():
    [cmd] = split_commands("run a 2>&1 >>log")
    assert cmd.argv == ["run", "a"]
    assert cmd.redirects == [(">&", "1"), (">>", "log")]


def test_line_continuations_and_line_offsets():
    cmds = split_commands("first \\\n  --flag\nsecond\n\n# comment\nthird # trailing")
    assert [c.argv for c in cmds] == [["first", "--flag"], ["second"], ["third"]]
    assert [c.line_offset for c in cmds] == [0, 2, 5]


def test_loops_mark_their_body():
    cmds = split_commands("for i in a b; do\n  build $i\ndone\nafter\nwhile check; do work; done")
    by_name = {c.argv[0]: c for c in cmds}
    assert "for" not in by_name
    assert by_name["build"].in_loop and not by_name["after"].in_loop
    assert by_name["check"].in_loop and by_name["work"].in_loop


def test_heredoc_body_is_data():
    cmds = split_commands("cat <<EOF > f\necho $SECRET\nEOF\nnext")
    assert [c.argv for c in cmds] == [["cat"], ["next"]]


def test_hash_inside_a_word_is_not_a_comment():
    assert argvs("build --context git://h/r#refs/heads/x") == [["build", "--context", "git://h/r#refs/heads/x"]]


@pytest.mark.parametrize("text", ["echo 'open", 'echo "open', "echo $(open", "cat <<EOF\nbody"])
def test_unterminated_input_is_an_error(text):
    with pytest.raises(UsageError):
        split_commands(text, "f.yml:3")
