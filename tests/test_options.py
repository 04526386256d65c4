"""Options declared once (textal.options) and the store URI parsed once (textal.store.uri)."""

from __future__ import annotations

from pathlib import Path

import pytest

from textal.errors import TextalError
from textal.options import Interval, StrOptions
from textal.store import StoreURI


def test_str_options_check_and_refuse_a_default_outside_them():
    modes = StrOptions(("auto", "all"), default="auto")
    assert modes.check("all", "candidates") == "all"
    with pytest.raises(ValueError, match=r"^candidates must be one of auto, all: 'some'$"):
        modes.check("some", "candidates")
    with pytest.raises(ValueError, match="default"):
        StrOptions(("a",), default="b")


@pytest.mark.parametrize(
    ("option", "inside", "outside", "words"),
    [
        (Interval(int, 1, low=1), [1, 10**9], [0, -3], "at least 1"),
        (Interval(int, 20, low=1, high=500), [1, 500], [0, 501], "from 1 to 500"),
        (Interval(float, 1.0, low=0, high=1, low_open=True), [1e-9, 1.0], [0.0, 1.5], "in (0, 1]"),
        (
            Interval(float, 0.0, low=0, high=1, high_open=True),
            [0.0, 0.99],
            [1.0, -0.1],
            "in [0, 1)",
        ),
        (Interval(float, 0.0), [-1e300, 1e300], [float("nan")], "any number"),
    ],
)
def test_interval_bounds(option, inside, outside, words):
    assert option.describe() == words
    for value in inside:
        assert option.problem(value) is None and option.check(value, "x") == value
    for value in outside:
        assert option.problem(value) == f"must be {words}"
        with pytest.raises(ValueError) as refused:
            option.check(value, "x")
        assert str(refused.value) == f"x must be {words}, got {value!r}"
    with pytest.raises(ValueError, match="default"):
        Interval(int, 0, low=1)


def test_store_uri_kinds_paths_and_identity(tmp_path: Path):
    assert StoreURI.parse("memory") == StoreURI("memory", "", "memory")
    memory = StoreURI.parse("memory:stores/m")
    assert (memory.kind, memory.path(tmp_path)) == ("memory", tmp_path / "stores/m")
    assert memory.identity("c", base=tmp_path) == f"memory:{(tmp_path / 'stores/m').resolve()}"
    lite = StoreURI.parse("milvus.db")
    assert lite.kind == "lite"
    assert (
        lite.identity("c", base=tmp_path) == f"{(tmp_path / 'milvus.db').resolve()} (collection c)"
    )
    server = StoreURI.parse("http://user:secret@[::1]:19530/")
    assert server.kind == "server"
    assert server.identity("c") == "http://[::1]:19530 (collection c)"  # no credentials
    with pytest.raises(ValueError, match="no path"):
        server.path()
    for bad, message in [
        ("tcp://host:1", "is not supported"),
        ("store.sqlite", "must end with .db"),
        ("http://:19530", "names no host"),
        ("http://user:secret@host:port", "is not a valid URL"),
        ("memory:", "must end with .db"),
    ]:
        with pytest.raises(TextalError, match=message) as refused:
            StoreURI.parse(bad)
        assert "secret" not in str(refused.value)
