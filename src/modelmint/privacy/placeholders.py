"""Reversible placeholders: `<PHONE_1>` stands for one value throughout one request.

`Placeholders.redact` swaps every detected value for its placeholder (the same value
always gets the same one); `restore` puts the values back. `Restorer` does the same on a
stream whose pieces may split a placeholder anywhere (`<PHO` + `NE_1>`): it holds back a
tail that could still become a placeholder, and nothing else.
"""

from __future__ import annotations

import re
from collections import Counter

from modelmint.privacy.detect import detect
from modelmint.privacy.entities import TYPES

TAG_RE = re.compile(r"<(" + "|".join(TYPES) + r")_(\d{1,4})>")
LONGEST_TAG = max(len(t) for t in TYPES) + 7  # "<" + TYPE + "_" + 4 digits + ">"


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
        pieces, last = [], 0
        for entity in detect(text):
            pieces += [text[last : entity.start], self.tag(entity.type, entity.text)]
            last = entity.end
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
