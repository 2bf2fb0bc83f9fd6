"""Text as the PII detectors read it, and the way back to the text as it was written.

A value can wear a disguise that leaves it the same value to a reader: full-width digits
and letters (`１３８`, `＠`, typed by Chinese input methods), zero-width spaces, word
joiners, soft hyphens, byte-order and direction marks inside it (Unicode category Cf),
no-break and ideographic spaces or dashes other than `-` between its groups, digits of
other scripts. `fold` undoes these: each character is folded on its own with NFKC, format
characters are dropped (or read as a space, see `fold`), every space is a space, every
hyphen or en dash a `-`, every decimal digit an ASCII digit.

Characters written beside a number rather than as its digits are left alone: superscripts
and subscripts (footnote marks), circled numbers (list marks) and vulgar fractions, which
folded would glue themselves onto the number they follow (`13812345678¹`). So is the
full-width punctuation of Chinese sentences that is never part of a value (`，：；！？`):
folded, `结果：::ffff:…` would read as an IPv6 address starting `:::`.

Folding character by character differs from NFKC of the whole text only where characters
compose (a letter and a combining accent), which no detector looks at, and it keeps a map:
`Folded.span` gives the span of the original text that a span of the folded text came
from, format characters inside it included, so redaction replaces what was written.

Fast path: ASCII text, or text holding none of the characters that fold, is not copied
(`fold` returns None); most Chinese text (full-width punctuation) takes the slow path,
whose cost is per foldable character.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

# Chinese sentence punctuation, full-width but kept: never part of a value
KEPT = "\uff01\uff0c\uff1a\uff1b\uff1f"  # ！，：；？
# Characters that never fold (checked by tests/privacy/test_normalize.py): ASCII, Latin-1
# letters, curly quotes and the em dash, CJK punctuation that has no compatibility form or
# is kept, Cyrillic, kana, CJK ideographs and Hangul syllables. The rest is looked at.
_STABLE = (
    "\x00-\x7f\u00c0-\u00ff\u2014\u2018\u2019\u201c\u201d\u3001\u3002\u3008-\u3011"
    + KEPT
    + "\u0400-\u04ff\u3041-\u3096\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3"
)
_SUSPECT = re.compile(f"[^{_STABLE}]")
# hyphens and en dashes NFKC leaves alone; the full-width and small ones it folds itself
DASHES = frozenset("\u2010\u2011\u2012\u2013\u2212")
# compatibility forms written beside a number, never as its digits
_BESIDE = ("<super>", "<sub>", "<circle>", "<fraction>")
FORMAT = "Cf"


@lru_cache(maxsize=8192)
def fold_char(char: str) -> str | None:
    """What one character reads as; None for a format character (category Cf)."""
    category = unicodedata.category(char)
    if category == FORMAT:
        return None
    if category == "Zs":
        return " "
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if char in DASHES:
        return "-"
    if char in KEPT or unicodedata.decomposition(char).startswith(_BESIDE):
        return char
    return unicodedata.normalize("NFKC", char)


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text, in pieces: piece k starts at `starts[k]` in `text` and at `origins[k]`
    in the original; it is the original copied (`copied[k]`) or one original character
    folded into one or more characters. `formats`: where in `text` format characters
    were read (dropped, or replaced)."""

    text: str
    starts: list[int]
    origins: list[int]
    copied: list[bool]
    formats: list[int]

    def _origin(self, index: int) -> int:
        k = bisect_right(self.starts, index) - 1
        return self.origins[k] + (index - self.starts[k] if self.copied[k] else 0)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that `text[start:end]` (not empty) was folded from."""
        return self._origin(start), self._origin(end - 1) + 1


def fold(text: str, format_as: str = "") -> Folded | None:
    """`text` folded, format characters replaced by `format_as` (dropped by default: a
    zero-width space inside a number hides nothing; `" "` reads them as the word breaks
    they may also be). None when nothing folds."""
    if text.isascii():
        return None
    folded = Folded("", [], [], [], [])  # filled in below, `text` last
    pieces: list[str] = []
    position = length = 0  # in the original, in the folded text

    def add(piece: str, origin: int, copied: bool) -> None:
        nonlocal length
        folded.starts.append(length)
        folded.origins.append(origin)
        folded.copied.append(copied)
        pieces.append(piece)
        length += len(piece)

    for match in _SUSPECT.finditer(text):
        index, char = match.start(), match.group()
        value = fold_char(char)
        if value is None:
            value = format_as
            folded.formats.append(length + index - position)
        if value == char:
            continue
        if index > position:
            add(text[position:index], position, True)
        if value:
            add(value, index, False)
        position = index + 1
    if position == 0:
        return None
    if position < len(text):
        add(text[position:], position, True)
    return Folded("".join(pieces), folded.starts, folded.origins, folded.copied, folded.formats)
