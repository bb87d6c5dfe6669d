"""History times without a clock of their own get BuildKit's: the first new layer's, then the
previous entry's; the config's ``created`` is the last entry's."""

from mason.executor.stageconfig import fill_history_times


def entries(*times):
    return [({"created": t} if t else {}) | {"created_by": f"step {i}"} for i, t in enumerate(times)]


def test_metadata_before_the_first_new_layer_takes_that_layer_time():
    history = entries("base", None, "layer1", None, "layer2")
    assert fill_history_times(history) == "layer2"
    assert [h["created"] for h in history] == ["base", "layer1", "layer1", "layer1", "layer2"]
    assert list(history[1]) == ["created", "created_by"]        # the time comes first, as own times do


def test_metadata_only_after_the_base_takes_the_base_time():
    history = entries("base", None, None)
    assert fill_history_times(history) == "base"
    assert [h["created"] for h in history] == ["base", "base", "base"]


def test_scratch_with_metadata_only_has_no_time():
    history = entries(None, None)
    assert fill_history_times(history) is None
    assert all("created" not in h for h in history)
    assert fill_history_times([]) is None
