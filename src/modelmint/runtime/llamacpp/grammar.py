"""Bounds on a request's JSON schema, checked before it becomes a llama.cpp grammar.

llama_cpp's `json_schema_to_gbnf` writes repetition out as text (`minLength: 10**9` asks
for a grammar of gigabytes, and a pattern's `a{10**9}` too), and llama.cpp's grammar
engine keeps one parse stack per way the answer so far can be read: branches that can
start alike, nested inside each other or behind a recursive `$ref`, multiply the stacks
that every sampled token is checked against (each costs up to a scan of the vocabulary).
This module owns the limits: `check_schema` walks the schema (following `$ref`s) and
refuses, with a 400 that names the limit and what to change, anything past them;
`check_grammar` caps the grammar that comes out. The compiling itself is sampling.py's.

Measured on SmolLM2-135M (49k tokens, 2 busy cores): a token of an enum's value costs
~0.1 s with 64 values sharing a prefix, ~0.4 s with 128 and ~1.1 s with 256; 100
optional properties ~0.3 s; 2**8 nested look-alike branches up to 0.7 s and 16 of
them times a 400-value enum 12 s. The limits keep the worst allowed near a second for
the few tokens where that many readings are open, tens of milliseconds otherwise.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, NoReturn

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.llamacpp.pattern import Shape, pattern_shape

MAX_SCHEMA_BYTES = 64 * 1024  # the schema as compact JSON
MAX_JSON_DEPTH = 32  # nested objects and arrays anywhere in the schema document
MAX_DEPTH = 16  # nested subschemas: properties, items, branches, $ref targets
MAX_SUBSCHEMAS = 2000  # subschemas visited, each $ref followed where it is used
MAX_PROPERTIES = 100  # properties of one object (the converter is quadratic in these)
MAX_TOTAL_PROPERTIES = 1000
MAX_ENUM_VALUES = 500  # enum entries and consts in the whole schema
MAX_BRANCHES = 64  # anyOf/oneOf/allOf entries, tuple items and listed types, in all
MAX_AMBIGUITY = 16  # product, along one path, of branches that can start with one character
# MAX_AMBIGUITY times what is open at once where a path ends: enum values, optional
# properties, a pattern's optional parts
MAX_READINGS = 256
MAX_COUNT = 1000  # minLength, maxLength, minItems, maxItems, min/maxProperties, regex {n,m}
# all of those together (each counted where it is used): the converter writes out one
# copy of the repeated rule's name per count, before the grammar's size can be checked
MAX_TOTAL_COUNT = 4000
MAX_NAME_CHARS = 128  # a property name or $ref: rule names are made of them
MAX_PATTERN_CHARS = 512
MAX_SKIPPABLE = 16  # optional parts of a pattern (pattern.py)
MAX_GRAMMAR_BYTES = 64 * 1024

COUNT_KEYWORDS = (
    "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties",
)  # fmt: skip
PREFIX = "response_format.json_schema.schema"
# the first character of each JSON type, to tell branches that can start alike
STARTS = {
    "string": frozenset('"'),
    "object": frozenset("{"),
    "array": frozenset("["),
    "number": frozenset("-0123456789"),
    "integer": frozenset("-0123456789"),
    "boolean": frozenset("tf"),
    "null": frozenset("n"),
}
ANYTHING = None  # a branch that may start with any character


def refuse(where: str, what: str, limit: int | str, change: str) -> NoReturn:
    place = f" at {where}" if where else ""
    raise InvalidRequestError(
        f"{PREFIX}{place}: {what} (the limit is {limit}); {change}.",
        param="response_format",
    )


def check_grammar(grammar: str) -> str:
    if len(grammar) > MAX_GRAMMAR_BYTES:
        refuse(
            "",
            f"the grammar it compiles to has {len(grammar)} bytes",
            MAX_GRAMMAR_BYTES,
            "use fewer properties, shorter patterns or smaller length and item bounds",
        )
    return grammar


def check_schema(schema: Any) -> str:
    """Refuse a schema past the limits; return it as compact JSON text."""
    try:
        text = json.dumps(schema, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError):
        refuse("", "the schema nests too deeply", MAX_JSON_DEPTH, "flatten it")
    if len(text) > MAX_SCHEMA_BYTES:
        refuse("", f"the schema has {len(text)} bytes", MAX_SCHEMA_BYTES, "send a smaller one")
    if json_depth(schema) > MAX_JSON_DEPTH:
        refuse("", "the schema document nests too deeply", MAX_JSON_DEPTH, "flatten it")
    Walk(schema).visit(schema, "", 0, 1)
    return text


def json_depth(value: Any) -> int:
    """How deeply objects and arrays nest in `value` (no recursion: it may be deep)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                todo.extend((child, depth + 1) for child in children)
    return deepest


class Walk:
    """One pass over a schema, counting what the limits count."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.subschemas = self.properties = self.enums = self.branches = self.counts = 0
        self.refs: dict[str, int] = {}  # $refs being followed, with the ambiguity at entry
        self._starts: dict[int, frozenset[str] | None] = {}

    def visit(self, schema: Any, where: str, depth: int, ambiguity: int) -> None:
        if not isinstance(schema, dict):
            return  # the converter refuses what is not a schema object
        self._count_node(where, depth)
        self._check_counts(schema, where)
        self._count_values(schema, where)
        self._check_readings(ambiguity * self.open_at_once(schema, where), where)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            self._follow(ref, where, depth, ambiguity)
        self._visit_branches(schema, where, depth, ambiguity)
        self._visit_object(schema, where, depth, ambiguity)
        self._visit_items(schema, where, depth, ambiguity)

    def _count_node(self, where: str, depth: int) -> None:
        self.subschemas += 1
        if self.subschemas > MAX_SUBSCHEMAS:
            refuse(
                where,
                f"more than {MAX_SUBSCHEMAS} subschemas once every $ref is followed",
                MAX_SUBSCHEMAS,
                "use fewer subschemas or fewer references to large definitions",
            )
        if depth > MAX_DEPTH:
            refuse(where, f"subschemas nest {depth} deep", MAX_DEPTH, "flatten the schema")

    def _check_counts(self, schema: dict, where: str) -> None:
        for keyword in COUNT_KEYWORDS:
            value = schema.get(keyword)
            if isinstance(value, int | float) and not 0 <= value <= MAX_COUNT:
                refuse(
                    f"{where}/{keyword}",
                    f"{keyword} is {value}",
                    f"0 to {MAX_COUNT}",
                    f"lower {keyword} or leave it out (max_tokens bounds the answer anyway)",
                )
            if isinstance(value, int | float):
                self._add_counts(int(value), f"{where}/{keyword}")

    def _add_counts(self, count: int, where: str) -> None:
        self.counts += count
        if self.counts > MAX_TOTAL_COUNT:
            refuse(
                where,
                f"the lengths, item counts and pattern repetitions add up to {self.counts}",
                MAX_TOTAL_COUNT,
                "lower them, or leave out the ones the answer does not need",
            )

    def _count_values(self, schema: dict, where: str) -> None:
        enum = schema.get("enum")
        self.enums += (len(enum) if isinstance(enum, list) else 0) + ("const" in schema)
        if self.enums > MAX_ENUM_VALUES:
            refuse(
                where,
                f"the schema lists {self.enums} enum and const values",
                MAX_ENUM_VALUES,
                "list fewer values",
            )

    def open_at_once(self, schema: dict, where: str) -> int:
        """How many readings one ending of this path can leave open at a time: enum
        values, optional properties (after `, "` any of them may follow) or the optional
        parts of a pattern."""
        widths = [1]
        enum = schema.get("enum")
        if isinstance(enum, list):
            widths.append(overlap([literal_start(value) for value in enum]))
        properties = schema.get("properties")
        if isinstance(properties, dict):
            required = schema.get("required")
            required = set(required) if isinstance(required, list) else set()
            widths.append(sum(name not in required for name in properties) + 1)
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            shape = check_pattern(pattern, f"{where}/pattern")
            self._add_counts(shape.total, f"{where}/pattern")
            widths.append(shape.skippable)
        return max(widths)

    def _check_readings(self, readings: int, where: str) -> None:
        if readings > MAX_READINGS:
            refuse(
                where,
                f"up to {readings} readings of the answer open at once (look-alike "
                "branches above it times its enum values, optional properties or "
                "optional pattern parts)",
                MAX_READINGS,
                "list fewer values or optional properties here, or nest it under fewer "
                "branches that start alike",
            )

    def _add_branches(self, count: int, where: str) -> None:
        self.branches += count
        if self.branches > MAX_BRANCHES:
            refuse(
                where,
                f"the schema has {self.branches} anyOf/oneOf/allOf branches, tuple items "
                "and listed types",
                MAX_BRANCHES,
                "use fewer alternatives",
            )

    def _follow(self, ref: str, where: str, depth: int, ambiguity: int) -> None:
        check_name(ref, f"{where}/$ref")
        target = resolve(self.root, ref)
        if target is None:
            return  # the converter refuses it with its own message
        if ref in self.refs:
            if ambiguity > self.refs[ref]:
                refuse(
                    where,
                    f"$ref {ref} recurses through branches that can start alike, so the "
                    "ways to read the answer multiply with every level",
                    "no recursion through such branches",
                    "make the branches on the recursive path start differently (e.g. an "
                    "object or null) or do not recurse",
                )
            return  # a recursive rule, as the converter writes it
        self.refs[ref] = ambiguity
        self.visit(target, ref.lstrip("#"), depth + 1, ambiguity)
        del self.refs[ref]

    def _visit_branches(self, schema: dict, where: str, depth: int, ambiguity: int) -> None:
        types = schema.get("type")
        if isinstance(types, list):
            self._add_branches(len(types), f"{where}/type")
            starts = [STARTS.get(t) if isinstance(t, str) else ANYTHING for t in types]
            self._check_ambiguity(ambiguity * overlap(starts), f"{where}/type")
        for keyword in ("anyOf", "oneOf", "allOf"):
            branches = schema.get(keyword)
            if not isinstance(branches, list):
                continue
            self._add_branches(len(branches), f"{where}/{keyword}")
            factor = 1
            if keyword != "allOf":  # allOf's properties are merged into one object
                factor = overlap([self.starts(branch) for branch in branches])
            inner = self._check_ambiguity(ambiguity * factor, f"{where}/{keyword}")
            for i, branch in enumerate(branches):
                self.visit(branch, f"{where}/{keyword}/{i}", depth + 1, inner)

    def _check_ambiguity(self, ambiguity: int, where: str) -> int:
        if ambiguity > MAX_AMBIGUITY:
            refuse(
                where,
                f"{ambiguity} ways to read the same answer (branches that can start with "
                "the same character, nested, multiply; so does additionalProperties next "
                "to properties)",
                MAX_AMBIGUITY,
                "make branches start differently, nest fewer of them, or set "
                "additionalProperties to false",
            )
        return ambiguity

    def _visit_object(self, schema: dict, where: str, depth: int, ambiguity: int) -> None:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        if len(properties) > MAX_PROPERTIES:
            refuse(
                f"{where}/properties",
                f"an object has {len(properties)} properties",
                MAX_PROPERTIES,
                "split it into nested objects",
            )
        self.properties += len(properties)
        if self.properties > MAX_TOTAL_PROPERTIES:
            refuse(
                where,
                f"the schema has {self.properties} properties",
                MAX_TOTAL_PROPERTIES,
                "use fewer properties",
            )
        extra = schema.get("additionalProperties")
        if properties and (extra is True or isinstance(extra, dict)):
            # a named property's key and value also read as an additional one
            ambiguity = self._check_ambiguity(ambiguity * 2, f"{where}/additionalProperties")
        for name, subschema in properties.items():
            check_name(name, f"{where}/properties")
            self.visit(subschema, f"{where}/properties/{name}", depth + 1, ambiguity)
        self.visit(extra, f"{where}/additionalProperties", depth + 1, ambiguity)

    def _visit_items(self, schema: dict, where: str, depth: int, ambiguity: int) -> None:
        for keyword in ("items", "prefixItems"):
            items = schema.get(keyword)
            if isinstance(items, list):
                self._add_branches(len(items), f"{where}/{keyword}")
                for i, item in enumerate(items):
                    self.visit(item, f"{where}/{keyword}/{i}", depth + 1, ambiguity)
            else:
                self.visit(items, f"{where}/{keyword}", depth + 1, ambiguity)

    def starts(self, schema: Any, depth: int = 0) -> frozenset[str] | None:
        """The characters an answer to `schema` can start with (ANYTHING if unknown)."""
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return ANYTHING
        key = id(schema)
        if key not in self._starts:
            self._starts[key] = ANYTHING  # until known: a $ref back here is unknown
            self._starts[key] = self._compute_starts(schema, depth)
        return self._starts[key]

    def _compute_starts(self, schema: dict, depth: int) -> frozenset[str] | None:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return self.starts(resolve(self.root, ref), depth + 1)
        branches = schema.get("oneOf") or schema.get("anyOf")
        types = schema.get("type")
        if isinstance(branches, list):
            return union(self.starts(b, depth + 1) for b in branches)
        if isinstance(types, list):
            return union(STARTS.get(t) if isinstance(t, str) else ANYTHING for t in types)
        if "const" in schema:
            return union([literal_start(schema["const"])])
        if isinstance(schema.get("enum"), list):
            return union(literal_start(value) for value in schema["enum"])
        if isinstance(types, str):
            return STARTS.get(types, ANYTHING)
        return implied_start(schema)


def check_name(name: str, where: str) -> None:
    if len(name) > MAX_NAME_CHARS:
        refuse(
            where, f"a name has {len(name)} characters", MAX_NAME_CHARS, "use shorter names"
        )  # fmt: skip


def implied_start(schema: dict) -> frozenset[str] | None:
    """The start of a schema without a type, from its keywords, as the converter reads it."""
    if any(k in schema for k in ("properties", "additionalProperties", "allOf")):
        return STARTS["object"]
    if "items" in schema or "prefixItems" in schema:
        return STARTS["array"]
    if "pattern" in schema or "format" in schema:
        return STARTS["string"]
    return ANYTHING


def literal_start(value: Any) -> frozenset[str] | None:
    try:
        return frozenset(json.dumps(value)[:1])
    except (RecursionError, ValueError, TypeError):
        return ANYTHING


def union(sets: Any) -> frozenset[str] | None:
    result: set[str] = set()
    for chars in sets:
        if chars is ANYTHING:
            return ANYTHING
        result |= chars
    return frozenset(result)


def overlap(starts: list[frozenset[str] | None]) -> int:
    """How many of the branches can start with one same character: while they are all
    still possible, the grammar engine follows each of them."""
    unknown = sum(chars is ANYTHING for chars in starts)
    counts = Counter(c for chars in starts if chars is not ANYTHING for c in chars)
    return max(1, unknown + max(counts.values(), default=0))


def resolve(root: Any, ref: str) -> Any:
    """The subschema a local `#/a/b` reference names, as the converter finds it."""
    if not ref.startswith("#/"):
        return None
    target = root
    for part in ref[2:].split("/"):
        if not isinstance(target, dict) or part not in target:
            return None
        target = target[part]
    return target


def check_pattern(pattern: str, where: str) -> Shape:
    """Refuse a long pattern, one that repeats something more than MAX_COUNT times (the
    converter writes every repetition out) or one with too many optional parts."""
    if len(pattern) > MAX_PATTERN_CHARS:
        refuse(
            where, f"the pattern has {len(pattern)} characters", MAX_PATTERN_CHARS,
            "shorten it",
        )  # fmt: skip
    shape = pattern_shape(pattern)
    for count in (shape.largest, shape.smallest):
        if not 0 <= count <= MAX_COUNT:
            refuse(
                where,
                f"the pattern repeats something {count} times",
                f"0 to {MAX_COUNT}",
                "lower the {n,m} bounds or use * or +",
            )
    if shape.skippable > MAX_SKIPPABLE:
        refuse(
            where,
            f"the pattern has {shape.skippable} optional parts (x?, x*, x{{0,n}}, and each "
            "copy of a repeated group that can match nothing)",
            MAX_SKIPPABLE,
            "make fewer parts optional, or repeat groups that always match something",
        )
    return shape
