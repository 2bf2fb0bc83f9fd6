"""OpenAI's attribute filters: comparisons, compounds, missing keys, kinds, and errors that
say where the filter is wrong."""

from __future__ import annotations

import pytest

from modelmint.knowledge.filters import FilterError, compile_filter

FILE = {"region": "cn", "year": 2024, "public": True, "price": 9.5}


def passes(spec, attributes=FILE) -> bool:
    return compile_filter(spec)(attributes)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "eq", "key": "region", "value": "cn"}, True),
        ({"type": "ne", "key": "region", "value": "cn"}, False),
        ({"type": "gt", "key": "year", "value": 2023}, True),
        ({"type": "lte", "key": "price", "value": 9}, False),
        ({"type": "gte", "key": "region", "value": "a"}, True),  # strings by their order
        ({"type": "in", "key": "region", "value": ["uk", "cn"]}, True),
        ({"type": "nin", "key": "region", "value": ["uk", "cn"]}, False),
        ({"type": "eq", "key": "public", "value": True}, True),
        ({"type": "eq", "key": "year", "value": "2024"}, False),  # across kinds
        ({"type": "gt", "key": "region", "value": 1}, False),
        ({"type": "eq", "key": "public", "value": 1}, False),  # a boolean is not a number
    ],
)
def test_comparisons(spec, expected):
    assert passes(spec) is expected


def test_a_missing_key_fails_all_but_ne_and_nin():
    assert not passes({"type": "eq", "key": "author", "value": "x"})
    assert not passes({"type": "lt", "key": "author", "value": 3})
    assert passes({"type": "ne", "key": "author", "value": "x"})
    assert passes({"type": "nin", "key": "author", "value": ["x"]})


def test_compounds_nest():
    spec = {"type": "and", "filters": [
        {"type": "eq", "key": "region", "value": "cn"},
        {"type": "or", "filters": [{"type": "lt", "key": "year", "value": 2000},
                                   {"type": "eq", "key": "public", "value": True}]},
    ]}  # fmt: skip
    assert passes(spec)
    assert not passes(spec, {**FILE, "public": False})


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("region", "must be an object"),
        ({"type": "like", "key": "a", "value": "b"}, "filters.type must be one of"),
        ({"type": "eq", "value": "b"}, "filters.key must be a non-empty string"),
        ({"type": "eq", "key": "a", "value": None}, "filters.value must be a string"),
        ({"type": "in", "key": "a", "value": []}, "list of 1 to 100"),
        ({"type": "in", "key": "a", "value": [True]}, "strings and numbers only"),
        ({"type": "gt", "key": "a", "value": False}, "not booleans"),
        ({"type": "and", "filters": []}, "filters.filters must be a non-empty list"),
        ({"type": "or", "filters": [{"type": "eq", "key": "a"}]}, r"filters.filters\[0\].value"),
    ],
)
def test_malformed_filters_say_where(spec, words):
    with pytest.raises(FilterError, match=words):
        compile_filter(spec)


def test_size_and_depth_are_bounded():
    deep = {"type": "eq", "key": "a", "value": 1}
    for _ in range(6):
        deep = {"type": "and", "filters": [deep]}
    with pytest.raises(FilterError, match="nest at most"):
        compile_filter(deep)
    wide = {"type": "or", "filters": [{"type": "eq", "key": "a", "value": i} for i in range(51)]}
    with pytest.raises(FilterError, match="at most 50 comparisons"):
        compile_filter(wide)
