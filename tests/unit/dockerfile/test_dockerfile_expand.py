"""Word expansion: table-driven, written from the Dockerfile reference and BuildKit's lexer rules."""

import pytest

from mason.dockerfile import expand_heredoc, expand_word, expand_words
from mason.errors import DockerfileError, MasonError

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "EMPTY": "", "X": "a b  c",
       "P": "/usr/local/lib.tar.gz", "V": "aXbXc"}

WORD_CASES = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he'llo", None),
    ('he"llo', None),
    ("he\\'llo", "he'llo"),
    ("'hello\\'", "hello\\"),
    ('"hello\\"', None),
    ('"he\\"llo"', 'he"llo'),
    ('"a\\b"', "a\\b"),
    ('"a\\\\b"', "a\\b"),
    ('"\\$PWD"', "$PWD"),
    ("\\$PWD", "$PWD"),
    ("'$PWD'", "$PWD"),
    ('"$PWD"', "/home"),
    ("$PWD", "/home"),
    ("${PWD}", "/home"),
    ("x${PWD}x", "x/homex"),
    ("$PWD/x", "/home/x"),
    ("$UNSET", ""),
    ("${UNSET}", ""),
    ("$", "$"),
    ("a$", "a$"),
    ("$1", ""),
    ("${KOREAN}", "한국어"),
    ("${UNSET:-def}", "def"),
    ("${EMPTY:-def}", "def"),
    ("${EMPTY-def}", ""),
    ("${UNSET-def}", "def"),
    ("${PWD:-def}", "/home"),
    ("${PWD:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${UNSET:-${PWD}x}", "/homex"),
    ("${UNSET:-'q u'}", "q u"),
    ("${PWD:?msg}", "/home"),
    ("${EMPTY?msg}", ""),
    ("${P#*/}", "usr/local/lib.tar.gz"),
    ("${P##*/}", "lib.tar.gz"),
    ("${P%.*}", "/usr/local/lib.tar"),
    ("${P%%.*}", "/usr/local/lib"),
    ("${P#nomatch}", "/usr/local/lib.tar.gz"),
    ("${V/X/-}", "a-bXc"),
    ("${V//X/-}", "a-b-c"),
    ("${V//?X/}", "c"),
    ("${V/nomatch/z}", "aXbXc"),
    ("${UNSET//X/-}", ""),
    ("a\\ b", "a b"),
    ("a\\", "a"),
    ("\\\\", "\\"),
    ('"x"\'y\'z', "xyz"),
]


@pytest.mark.parametrize("word,expected", WORD_CASES)
def test_expand_word(word, expected):
    if expected is None:
        with pytest.raises(DockerfileError):
            expand_word(word, ENV)
    else:
        assert expand_word(word, ENV) == expected


@pytest.mark.parametrize("word,message", [
    ("${UNSET:?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${UNSET?custom}", "UNSET: custom"),
    ("${EMPTY:?no empty}", "EMPTY: no empty"),
    ("${PWD", "missing '}'"),
    ("${", "missing '}'"),
    ("${}", "bad substitution"),
    ("${:x}", "bad substitution"),
    ("${{x}", "bad substitution"),
    ("${PWD:x}", "unsupported modifier (:x)"),
    ("${PWD^}", "unsupported modifier (^)"),
    ("${PWD/x", "missing '/'"),
    ("${PWD/x/y", "missing '}'"),
    ("'abc", "single-quote"),
    ('"abc', "double-quote"),
    ("${P#\\a}", "invalid escape"),
])
def test_expand_errors(word, message):
    with pytest.raises(DockerfileError) as info:
        expand_word(word, ENV)
    assert message in str(info.value)
    assert isinstance(info.value, MasonError)


WORDS_CASES = [
    ("hello world", ["hello", "world"]),
    ("  hello   world  ", ["hello", "world"]),
    ("$X", ["a", "b", "c"]),
    ('"$X"', ["a b  c"]),
    ("'$X'", ["$X"]),
    ("x$X", ["xa", "b", "c"]),
    ("a\\ b c", ["a b", "c"]),
    ('""', []),
    ('"" x', ["x"]),
    ("$EMPTY", []),
    ("80/tcp 53/udp", ["80/tcp", "53/udp"]),
    ("${UNSET:-8080 9090}", ["8080", "9090"]),
]


@pytest.mark.parametrize("word,expected", WORDS_CASES)
def test_expand_words(word, expected):
    assert expand_words(word, ENV) == expected


@pytest.mark.parametrize("word,expected", [
    ("`$PWD", "$PWD"),
    ("a`'b", "a'b"),
    ('"C:\\Program Files\\x"', "C:\\Program Files\\x"),
    ("C:\\dir\\$SHELL", "C:\\dir\\bash"),
    ('"a``b"', "a`b"),
    ('"a`"b"', 'a"b'),
])
def test_backtick_escape(word, expected):
    assert expand_word(word, ENV, escape="`") == expected


def test_invalid_escape_character():
    with pytest.raises(DockerfileError):
        expand_word("x", {}, escape="/")


def test_heredoc_body_expansion_keeps_quotes():
    assert expand_heredoc("echo \"$PWD\" '$SHELL' \\$X\n", ENV) == "echo \"/home\" 'bash' $X\n"
