"""Values split between texts that continue one another: a prompt and its completion, a
conversation and its answer. Each text alone may hold half a number (`Phone: 138123`,
then `45678`); read as one text, they hold a phone number.

`crossing` reads the parts as one text and finds the entities that cross a join between
two of them; each part gets the piece of such an entity that it holds, with the whole
value, so that both pieces get the same placeholder. It reads a window of `REACH`
characters on each side of every join, not the whole text again: what lies inside one
part is found by detecting that part alone (which also keeps a value ending one part from
being lost when glued onto digits that start the next).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelmint.privacy.detect import detect
from modelmint.privacy.entities import Entity

REACH = 256  # longer than any value a detector finds, and than a name's cue before it


@dataclass(frozen=True, slots=True)
class Piece:
    """The part of an entity that lies in one part: `parts[part][start:end]`."""

    part: int
    start: int
    end: int
    type: str
    value: str  # the whole entity, across the join


@dataclass(frozen=True, slots=True)
class Thread:
    """Indices of parts that continue one another, in order, and which kinds of value may
    cross a join between them (None: any). A completion goes straight on from its prompt,
    so anything may; a chat's messages are separated by the template, so only numbers
    split between them are taken as one (`138123` then `45678`), not words glued across
    (`…mail zhang.wei@example.cn` then `Call me…` is no address `example.cnCall`)."""

    parts: Sequence[int]
    types: frozenset[str] | None = None


def crossing(
    parts: Sequence[str],
    reach: int = REACH,
    find: Callable[[str], list[Entity]] | None = None,
    types: frozenset[str] | None = None,
) -> list[Piece]:
    """The pieces of every entity of `"".join(parts)` (of `types`, if given) that crosses
    a join. `find` is the detector (a caching one when many threads share their windows)."""
    find = find or detect
    joined = "".join(parts)
    bounds, end = [], 0
    for part in parts:
        bounds.append((end, end + len(part)))
        end += len(part)
    found: set[tuple[int, int, str]] = set()
    for join in sorted({stop for _, stop in bounds[:-1]}):
        low, high = max(0, join - reach), min(len(joined), join + reach)
        for entity in find(joined[low:high]):
            start, stop = entity.start + low, entity.end + low
            cut = (start == low and low > 0) or (stop == high and high < len(joined))
            wanted = types is None or entity.type in types
            if start < join < stop and wanted and not cut:  # an edge may cut a longer one
                found.add((start, stop, entity.type))
    pieces = []
    for start, stop, kind in sorted(found):
        for index, (first, last) in enumerate(bounds):
            if max(start, first) < min(stop, last):
                piece_start, piece_end = max(start, first) - first, min(stop, last) - first
                pieces.append(Piece(index, piece_start, piece_end, kind, joined[start:stop]))
    return pieces
