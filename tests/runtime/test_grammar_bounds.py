"""The limits on response_format schemas (runtime/llamacpp/grammar.py): what they refuse,
how fast, with which message, and that ordinary schemas still compile."""

from __future__ import annotations

import time

import pytest

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.engine import SamplingParams
from modelmint.runtime.llamacpp import grammar
from modelmint.runtime.llamacpp.grammar import check_schema, overlap
from modelmint.runtime.llamacpp.pattern import pattern_shape
from modelmint.runtime.llamacpp.sampling import grammar_for


def nested(levels: int, leaf: dict) -> dict:
    schema = leaf
    for _ in range(levels):
        schema = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
    return schema


def ambiguous(levels: int) -> dict:
    """Arrays of two look-alike branches, nested: 2**levels ways to read `[[[...`."""
    schema: dict = {"type": "string"}
    for _ in range(levels):
        schema = {"anyOf": [{"type": "array", "items": schema}] * 2}
    return schema


def ref_fan(levels: int, width: int) -> dict:
    """Definitions each referring `width` times to the next: width**levels subschemas."""
    defs = {f"d{levels}": {"type": "string"}}
    for i in range(levels):
        defs[f"d{i}"] = {
            "type": "object",
            "properties": {f"p{j}": {"$ref": f"#/$defs/d{i + 1}"} for j in range(width)},
        }
    return {"$defs": defs, "$ref": "#/$defs/d0"}


def deep_value(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE = {
    "minLength 1e9": ({"type": "string", "minLength": 10**9, "maxLength": 10**9}, "minLength"),
    "minLength 1e8": ({"type": "string", "minLength": 10**8}, "minLength"),
    "maxLength float": ({"type": "string", "maxLength": 1e300}, "maxLength"),
    "negative minLength": ({"type": "string", "minLength": -(10**9), "maxLength": 3}, "0 to"),
    "maxItems": ({"type": "array", "items": {"type": "string"}, "maxItems": 10**7}, "maxItems"),
    "minProperties": ({"type": "object", "minProperties": 10**6}, "minProperties"),
    "deep nesting": (nested(20, {"type": "string"}), "nest"),
    "deep const": ({"const": deep_value(40)}, "nests too deeply"),
    "wide enum": ({"enum": [f"v{i}" for i in range(600)]}, "enum"),
    "long pattern": ({"type": "string", "pattern": "^" + "a" * 600 + "$"}, "characters"),
    "pattern {n}": ({"type": "string", "pattern": "^a{1000000000}$"}, "repeats"),
    "pattern {n,m}": ({"type": "string", "pattern": "^(ab){0,99999}$"}, "repeats"),
    "pattern {n,}": ({"type": "string", "pattern": "^x[a-z]{2000,}$"}, "repeats"),
    "pattern 1_000": ({"type": "string", "pattern": "^a{1_000_000}$"}, "repeats"),
    "pattern negative": ({"type": "string", "pattern": "^a{-9,900}$"}, "repeats"),
    "pattern optional run": ({"type": "string", "pattern": "^" + "(a|b)?" * 20 + "$"}, "optional"),
    "pattern repeated nullable": ({"type": "string", "pattern": "^(a*){0,40}$"}, "optional"),
    "pattern nested nullable": (
        {"type": "string", "pattern": "^((a{0,5}){0,5}){0,5}$"},
        "optional",
    ),
    "repetitions in all": (
        {
            "type": "object",
            "properties": {
                f"s{i}": {"type": "string", "pattern": "^(ab){1000}$"} for i in range(5)
            },
        },
        "add up to",
    ),
    "long property name": ({"type": "object", "properties": {"x" * 200: {}}}, "name"),
    "enum of 300": ({"enum": [f"value number {i}" for i in range(300)]}, "readings"),
    "enum under look-alikes": (
        {
            "$defs": {"e": {"enum": [f"v{i}" for i in range(40)]}},
            "anyOf": [{"type": "array", "items": {"$ref": "#/$defs/e"}}] * 8,
        },
        "readings",
    ),
    "optional properties under look-alikes": (
        {
            "anyOf": [
                {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(90)}}
            ]
            * 4
        },
        "readings",
    ),
    "wide anyOf": ({"anyOf": [{"const": i} for i in range(100)]}, "branches"),
    "look-alike branches": (ambiguous(5), "ways to read"),
    "look-alike types": (
        {"type": "array", "items": {"anyOf": [{"type": ["number", "integer"]}] * 9}},
        "ways to read",
    ),
    "recursive look-alikes": (
        {
            "$defs": {
                "n": {
                    "anyOf": [
                        {"type": "array", "items": {"$ref": "#/$defs/n"}},
                        {"type": "array", "items": {"type": "string"}},
                    ]
                }
            },
            "$ref": "#/$defs/n",
        },
        "recurses",
    ),
    "recursive additionalProperties": (
        {
            "$defs": {
                "o": {
                    "type": "object",
                    "properties": {"a": {"$ref": "#/$defs/o"}},
                    "additionalProperties": True,
                }
            },
            "$ref": "#/$defs/o",
        },
        "recurses",
    ),
    "$ref fan-out": (ref_fan(12, 3), "subschemas"),
    "many properties": (
        {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(150)}},
        "properties",
    ),
    "many properties in all": (
        {
            "type": "object",
            "properties": {
                f"o{k}": {
                    "type": "object",
                    "properties": {f"p{i}": {"type": "integer"} for i in range(99)},
                }
                for k in range(11)
            },
        },
        "1000",
    ),
    "big schema": ({"type": "string", "description": "x" * 70_000}, "bytes"),
}


@pytest.mark.parametrize(("schema", "names"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_schema_is_refused_quickly_with_the_limit_named(schema, names):
    started = time.perf_counter()
    with pytest.raises(InvalidRequestError) as caught:
        grammar_for(SamplingParams(json_schema=schema))
    assert time.perf_counter() - started < 0.1
    error = caught.value
    assert error.status == 400 and error.param == "response_format"
    assert names in error.message and "the limit is" in error.message, error.message
    assert error.message.startswith("response_format.json_schema.schema")


def test_a_schema_that_compiles_to_too_big_a_grammar_is_refused():
    fields = {f"field_{i:03}": {"type": "integer"} for i in range(95)}
    objects = {f"o{j}": {"type": "object", "properties": fields} for j in range(5)}
    schema = {"type": "object", "properties": objects}
    check_schema(schema)  # every bound on its own is fine...
    with pytest.raises(InvalidRequestError, match="grammar it compiles to has"):
        grammar_for(SamplingParams(json_schema=schema))  # ...but not the grammar


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 40},
        "age": {"type": "integer", "minimum": 0},
        "mood": {"enum": ["happy", "sad", "calm"]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2,4}$"},
        "hobbies": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age", "mood", "code", "hobbies"],
    "additionalProperties": False,
}
NULLABLE_CHAIN = nested(
    8, {"anyOf": [{"type": "object", "properties": {"v": {"type": "integer"}}}, {"type": "null"}]}
)
TREE = {
    "$defs": {
        "tree": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/tree"}},
            },
        }
    },
    "type": "object",
    "properties": {"tree": {"$ref": "#/$defs/tree"}},
}
LINKED_LIST = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
            },
        }
    },
    "type": "object",
    "properties": {"list": {"$ref": "#/$defs/node"}},
}
AT_THE_LIMITS = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "maxLength": 1000},
        "tags": {"type": "array", "items": {"enum": [f"t{i}" for i in range(250)]}},
        "code": {"type": "string", "pattern": "^" + "[a-z]?" * 16 + "$"},
        "either": ambiguous(4),
    },
}


@pytest.mark.parametrize(
    "schema",
    [PERSON, NULLABLE_CHAIN, TREE, LINKED_LIST, AT_THE_LIMITS, {}, {"type": "object"}],
    ids=["person", "nullable-chain", "tree", "linked-list", "at-the-limits", "empty", "object"],
)
def test_ordinary_schemas_compile(schema):
    started = time.perf_counter()
    text = grammar_for(SamplingParams(json_schema=schema))
    assert text and "root ::=" in text
    assert time.perf_counter() - started < 0.5


def test_the_grammar_of_a_schema_is_compiled_once():
    grammar.check_schema(PERSON)
    first = grammar_for(SamplingParams(json_schema=PERSON))
    assert grammar_for(SamplingParams(json_schema=dict(PERSON))) is first


def test_a_schema_the_converter_cannot_read_is_a_400():
    with pytest.raises(InvalidRequestError, match="cannot be turned into a grammar") as caught:
        grammar_for(SamplingParams(json_schema={"$ref": "https://example.com/schema.json"}))
    assert caught.value.param == "response_format"


def test_overlap_counts_branches_that_start_alike():
    string, number, null = frozenset('"'), frozenset("-0123456789"), frozenset("n")
    assert overlap([string, null]) == 1
    assert overlap([string, string, null]) == 2
    assert overlap([number, number, number]) == 3
    assert overlap([None, string]) == 2  # a branch that may start with anything
    assert overlap([]) == 1


@pytest.mark.parametrize(
    ("pattern", "largest", "skippable"),
    [
        ("^abc$", 0, 0),
        ("^a{3}b{2,5}c{,7}d{4,}$", 7, 3),  # b, c and d end in optional copies; a does not
        (r"^\{9999\}[{99999}]x{1_000}$", 1000, 0),  # escaped, in a class, int()'s 1_000
        ("^a{ 12 , 13 }$", 13, 1),
        ("^a?b?c?$", 1, 3),
        ("^a?b?X?c?$", 1, 4),  # X? is optional too: the run goes on
        ("^a?Xb?$", 1, 2),
        ("^(a|b)?(c|d)?$", 1, 2),
        ("^(a*){0,4}$", 4, 8),  # four copies that can each match nothing
        ("^(ab?){0,40}$", 40, 2),  # copies that always match an a do not line up
        ("^[0-9]{3}-[0-9]{2,4}$", 4, 1),
        ("^((a)(", 0, 0),  # unbalanced: the converter refuses it
    ],
)
def test_pattern_shape_reads_patterns_as_the_converter_does(pattern, largest, skippable):
    shape = pattern_shape(pattern)
    assert (shape.largest, shape.skippable) == (largest, skippable)
