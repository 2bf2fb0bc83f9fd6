"""Attribute filters in OpenAI's shape, checked once and then applied to each file's
attributes: a comparison `{"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin", "key",
"value"}` or a compound `{"type": "and"|"or", "filters": [...]}`.

A comparison on a key the file does not have fails, except `ne` and `nin`, which it
passes (the file's value is not the one named). Values compare within their kind: a
number with a number, a string with a string, a boolean only for (in)equality; a
comparison across kinds fails. Nesting and size are bounded, so a filter cannot make a
search slow.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

Attributes = Mapping[str, str | float | bool]
Predicate = Callable[[Attributes], bool]

MAX_DEPTH = 5
MAX_COMPARISONS = 50
MAX_LIST = 100  # values of an `in` / `nin`
ORDERED = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
COMPARISONS = {"eq", "ne", "in", "nin", *ORDERED}


class FilterError(ValueError):
    """The filter is malformed; the message names where and how."""


def compile_filter(spec: Any) -> Predicate:
    """The predicate `spec` describes, or FilterError."""
    count = [0]
    return _compile(spec, "filters", 1, count)


def _compile(spec: Any, where: str, depth: int, count: list[int]) -> Predicate:
    if not isinstance(spec, Mapping):
        raise FilterError(f"{where} must be an object with a 'type'")
    kind = spec.get("type")
    if kind in ("and", "or"):
        return _compound(spec, kind, where, depth, count)
    if kind in COMPARISONS:
        count[0] += 1
        if count[0] > MAX_COMPARISONS:
            raise FilterError(f"a filter may hold at most {MAX_COMPARISONS} comparisons")
        return _comparison(spec, kind, where)
    raise FilterError(
        f"{where}.type must be one of and, or, {', '.join(sorted(COMPARISONS))}; got {kind!r}"
    )


def _compound(spec: Mapping, kind: str, where: str, depth: int, count: list[int]) -> Predicate:
    if depth >= MAX_DEPTH:
        raise FilterError(f"filters may nest at most {MAX_DEPTH} levels deep")
    parts = spec.get("filters")
    if not isinstance(parts, list) or not parts:
        raise FilterError(f"{where}.filters must be a non-empty list")
    compiled = [
        _compile(part, f"{where}.filters[{i}]", depth + 1, count) for i, part in enumerate(parts)
    ]
    if kind == "and":
        return lambda attributes: all(test(attributes) for test in compiled)
    return lambda attributes: any(test(attributes) for test in compiled)


def _comparison(spec: Mapping, kind: str, where: str) -> Predicate:
    key, value = spec.get("key"), spec.get("value")
    if not isinstance(key, str) or not key:
        raise FilterError(f"{where}.key must be a non-empty string")
    if kind in ("in", "nin"):
        if not isinstance(value, list) or not 0 < len(value) <= MAX_LIST:
            raise FilterError(f"{where}.value must be a list of 1 to {MAX_LIST} values")
        if not all(_scalar(v) and not isinstance(v, bool) for v in value):
            raise FilterError(f"{where}.value must hold strings and numbers only")

        def member(attributes: Attributes) -> bool:
            return key in attributes and any(_equal(attributes[key], v) for v in value)

        return member if kind == "in" else (lambda attributes: not member(attributes))
    if not _scalar(value):
        raise FilterError(f"{where}.value must be a string, a number or a boolean")
    if kind == "eq":
        return lambda a: key in a and _equal(a[key], value)
    if kind == "ne":
        return lambda a: key not in a or not _equal(a[key], value)
    if isinstance(value, bool):
        raise FilterError(f"{where}: {kind} compares numbers or strings, not booleans")
    compare = ORDERED[kind]
    return lambda a: key in a and _same_kind(a[key], value) and compare(a[key], value)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _same_kind(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool)
    numbers = int | float
    return isinstance(left, numbers) == isinstance(right, numbers)


def _equal(left: Any, right: Any) -> bool:
    return _same_kind(left, right) and left == right
