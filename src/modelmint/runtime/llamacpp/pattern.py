"""The shape of a schema's `pattern` as llama_cpp's converter reads it, for grammar.py's
limits: its largest `{n,m}` count, and its optional parts (all of them, an upper bound on
how many can follow one another).

The converter writes `x{0,40}` out as forty nested optional copies of `x`, and
llama.cpp's grammar engine follows every way to skip ahead over optional parts: after
each character of `a?a?a?...` (or `(a*){0,40}`) the next one may come from any of them.
Measured on SmolLM2's 49k-token vocabulary, 16 such parts in a row cost ~0.1 s per token,
32 ~0.8 s and 48 ~7 s. Optional parts split by a required one do not add up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CAP = 10**9  # counts past any limit stay at this, however they nest


@dataclass(slots=True)
class Shape:
    largest: int = 0  # the largest count in a quantifier
    total: int = 0  # the counts of all quantifiers: the converter writes that many copies
    smallest: int = 0  # the smallest (a negative one is refused)
    skippable: int = 0  # optional parts, each copy of a repeated one that can match nothing


@dataclass(slots=True)
class Group:
    """A group being read: its finished alternatives, and the items of the current one
    as (optional parts inside, can match nothing)."""

    skippable: int = 0
    nullable: bool = False
    items: list[tuple[int, bool]] = field(default_factory=list)

    def next_alternative(self) -> None:
        self.skippable = min(CAP, self.skippable + sum(count for count, _ in self.items))
        self.nullable = self.nullable or all(empty for _, empty in self.items)
        self.items = []

    def close(self) -> tuple[int, bool]:
        self.next_alternative()
        return self.skippable, self.nullable

    def repeat(self, low: int, high: int | None) -> None:
        """Apply a quantifier to the last item: copies of an item that can match nothing
        line up into one run of optional parts; otherwise only an optional tail is added."""
        if not self.items:
            return
        count, nullable = self.items[-1]
        copies = high if high is not None else low + 1
        optional_tail = high is None or high > low
        if nullable:
            count = min(CAP, max(copies, 1) * (count + 1))
        else:
            count = min(CAP, count + (1 if optional_tail else 0))
        self.items[-1] = (count, nullable or low <= 0)


def pattern_shape(pattern: str) -> Shape:
    """Read `pattern` ('^...$') as the converter does: groups, `|`, `*`/`+`/`?`/`{n,m}`
    quantifiers (counts read with `int()`), escapes and character classes as one atom."""
    body = pattern[1:-1] if pattern.startswith("^") and pattern.endswith("$") else pattern
    shape, groups, i = Shape(), [Group()], 0
    while i < len(body):
        c = body[i]
        if c == "(":
            groups.append(Group())
        elif c == ")" and len(groups) > 1:
            groups[-2].items.append(groups.pop().close())
        elif c == "|":
            groups[-1].next_alternative()
        elif c in "*+?{":
            low, high, i = read_quantifier(body, i)
            shape.largest = max(shape.largest, low, high or 0)
            shape.total = min(CAP, shape.total + max(low, high or 0))
            shape.smallest = min(shape.smallest, low, high if high is not None else low)
            groups[-1].repeat(low, high)
            continue
        else:
            i = skip_atom(body, i)
            groups[-1].items.append((0, False))
            continue
        i += 1
    while len(groups) > 1:  # unbalanced: the converter refuses it; count it anyway
        groups[-2].items.append(groups.pop().close())
    shape.skippable = groups[0].close()[0]
    return shape


def read_quantifier(body: str, i: int) -> tuple[int, int | None, int]:
    """(low, high or None for no bound, the index after it)."""
    c = body[i]
    if c != "{":
        return {"*": (0, None), "+": (1, None), "?": (0, 1)}[c] + (i + 1,)
    end = body.find("}", i)
    end = len(body) if end < 0 else end
    parts = [part.strip() for part in body[i + 1 : end].split(",")]
    if len(parts) == 1:
        low = high = as_count(parts[0])
    else:
        low, high = as_count(parts[0]), (as_count(parts[1]) if parts[1] else None)
    return low, high, end + 1


def skip_atom(body: str, i: int) -> int:
    if body[i] == "\\":
        return i + 2
    if body[i] == "[":
        i += 1
        while i < len(body) and body[i] != "]":
            i += 2 if body[i] == "\\" else 1
    return i + 1


def as_count(text: str) -> int:
    try:
        return max(-CAP, min(CAP, int(text or 0)))
    except ValueError:
        return 0  # not a number: the converter refuses the quantifier itself
