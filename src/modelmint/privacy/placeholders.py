"""Reversible placeholders: `<PHONE_1>` stands for one value throughout one request.

`Placeholders.redact` swaps every detected value for its placeholder (the same value
always gets the same one); `restore` puts the values back. `redact_parts` redacts texts
that continue one another (a prompt and its completion) also as one text: a value split
between two of them is replaced in both, by one placeholder. `Restorer` does the same on a
stream whose pieces may split a placeholder anywhere (`<PHO` + `NE_1>`): it holds back a
tail that could still become a placeholder, and nothing else.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from modelmint.privacy.detect import detect
from modelmint.privacy.entities import TYPES, Entity
from modelmint.privacy.joined import Thread, crossing

TAG_RE = re.compile(r"<(" + "|".join(TYPES) + r")_(\d{1,4})>")
LONGEST_TAG = max(len(t) for t in TYPES) + 7  # "<" + TYPE + "_" + 4 digits + ">"

Mark = tuple[int, int, str, str]  # start, end, type, value: what to replace in one text


class Placeholders:
    def __init__(self) -> None:
        self._tag_of: dict[tuple[str, str], str] = {}
        self._value_of: dict[str, str] = {}
        self._counts: Counter[str] = Counter()

    @property
    def found(self) -> list[str]:
        """The entity types replaced so far, in a stable order."""
        return sorted(self._counts)

    def tag(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._tag_of:
            self._counts[kind] += 1
            placeholder = f"<{kind}_{self._counts[kind]}>"
            self._tag_of[key] = placeholder
            self._value_of[placeholder] = value
        return self._tag_of[key]

    def redact(self, text: str) -> str:
        return self._replace(text, [_mark(e) for e in detect(text)])

    def redact_parts(self, parts: Sequence[str], threads: Iterable[Thread] = ()) -> list[str]:
        """Each part redacted. A thread lists (in order) the indices of parts that
        continue one another; a value crossing a join between them is replaced in each
        part that holds a piece of it."""
        marks = [[_mark(e) for e in detect(part)] for part in parts]
        seen: dict[str, list[Entity]] = {}  # threads share windows (a chat's n answers)

        def find(window: str) -> list[Entity]:
            if window not in seen:
                seen[window] = detect(window)
            return seen[window]

        for thread in threads:
            texts = [parts[i] for i in thread.parts]
            for piece in crossing(texts, find=find, types=thread.types):
                at = thread.parts[piece.part]
                marks[at].append((piece.start, piece.end, piece.type, piece.value))
        return [self._replace(part, _merged(m)) for part, m in zip(parts, marks, strict=True)]

    def _replace(self, text: str, marks: list[Mark]) -> str:
        pieces, last = [], 0
        for start, end, kind, value in marks:
            pieces += [text[last:start], self.tag(kind, value)]
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def restore(self, text: str) -> str:
        if not self._value_of or "<" not in text:
            return text
        return TAG_RE.sub(lambda m: self._value_of.get(m.group(), m.group()), text)

    def restorer(self) -> Restorer:
        return Restorer(self)


class Restorer:
    """Restores placeholders in streamed text, whatever the piece boundaries."""

    def __init__(self, placeholders: Placeholders) -> None:
        self._placeholders = placeholders
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = _unfinished_tag_start(text)
        self._held = text[cut:]
        return self._placeholders.restore(text[:cut])

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._placeholders.restore(held)


def _mark(entity: Entity) -> Mark:
    return entity.start, entity.end, entity.type, entity.text


def _merged(marks: list[Mark]) -> list[Mark]:
    """In order, overlapping marks made one (with the longer value's type and value)."""
    merged: list[Mark] = []
    for mark in sorted(marks):
        if merged and mark[0] < merged[-1][1]:
            last = merged[-1]
            kind, value = max((last[2:], mark[2:]), key=lambda tv: len(tv[1]))
            merged[-1] = (last[0], max(last[1], mark[1]), kind, value)
        else:
            merged.append(mark)
    return merged


def _unfinished_tag_start(text: str) -> int:
    """Where a trailing, still-possible placeholder begins (len(text) if none)."""
    start = text.rfind("<", max(0, len(text) - LONGEST_TAG))
    if start < 0 or ">" in text[start:]:
        return len(text)
    tail = text[start + 1 :]
    for kind in TYPES:
        head = kind + "_"
        if head.startswith(tail) or (tail.startswith(head) and tail[len(head) :].isdigit()):
            return start
    return len(text)
