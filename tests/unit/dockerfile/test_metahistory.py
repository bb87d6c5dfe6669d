"""Go's formatting, as BuildKit's history texts use it."""

import pytest

from mason.dockerfile.metahistory import go_duration, go_quote


@pytest.mark.parametrize("ns, text", [(0, "0s"), (999, "999ns"), (1500, "1.5µs"), (500_000_000, "500ms"),
                                      (1_500_000_000, "1.5s"), (90 * 10**9, "1m30s"), (7200 * 10**9, "2h0m0s"),
                                      (3661 * 10**9 + 10**8, "1h1m1.1s")])
def test_durations_read_as_time_duration_string(ns, text):
    assert go_duration(ns) == text


@pytest.mark.parametrize("raw, text", [('say "hi"', r'"say \"hi\""'), ("a\tb\n", r'"a\tb\n"'), ("\x01", r'"\x01"'),
                                       ("é", '"é"'), ("back\\slash", r'"back\\slash"')])
def test_strings_quote_as_strconv_quote(raw, text):
    assert go_quote(raw) == text


def test_an_int_under_q_is_a_quoted_rune():
    assert go_quote(chr(0), "'") == r"'\x00'" and go_quote(chr(3), "'") == r"'\x03'"
    assert go_quote("A", "'") == "'A'" and go_quote("'", "'") == r"'\''"
