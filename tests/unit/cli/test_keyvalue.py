import pytest

from mason.cli.keyvalue import key_value_map, split_key_value
from mason.errors import UsageError


def test_splits_at_the_first_equals_sign():
    assert split_key_value("a=b=c", "--label") == ("a", "b=c")
    assert split_key_value("a=", "--label") == ("a", "")


@pytest.mark.parametrize("raw", ["novalue", "=v", ""])
def test_refuses_a_missing_key_or_equals_sign_naming_the_flag(raw):
    with pytest.raises(UsageError) as err:
        split_key_value(raw, "--annotation")
    assert f"--annotation {raw!r}: expected KEY=VALUE" in str(err.value)


def test_later_values_replace_earlier_ones():
    assert key_value_map(["a=1", "b=2", "a=3"], "--build-arg") == {"a": "3", "b": "2"}
