"""Scoring a PII detector on `corpus.jsonl`, shared by `test_corpus.py` and
`benchmarks/pii_quality.py`, plus the validators that check the corpus's own labels.

The validators read a value as a person would (`plain`: format characters dropped, NFKC,
any space a space, any hyphen or en dash a `-`, any decimal digit an ASCII digit), written
here apart from the detector's own folding so that they check it rather than repeat it.

A detected entity is a true positive when its type and span equal a labelled one; a
detected span with spaces around it counts as the span without them. Every other detected
entity is a false positive, every labelled one not found a false negative (a right span
with the wrong type is both).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).with_name("corpus.jsonl")
STRUCTURED = ("EMAIL", "PHONE", "CN_ID", "CARD", "IP", "PASSPORT")
TYPES = (*STRUCTURED, "PERSON")
LANGS = ("zh", "en", "mixed")


def load_corpus(path: Path = CORPUS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def is_disguised(snippet: dict) -> bool:
    return "-dis" in snippet["id"]


def _plain_char(char: str) -> str:
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category == "Zs":
        return " "
    if category == "Nd":
        return str(unicodedata.digit(char))
    if category == "Pd" or char == "\u2212":
        return "-"
    return unicodedata.normalize("NFKC", char)


def plain(text: str) -> str:
    """`text` as a person reads it (see the module's docstring)."""
    return "".join(_plain_char(c) for c in text)


def plain_with_origins(text: str) -> tuple[str, list[int]]:
    """`plain(text)`, and for each of its characters the index it came from."""
    out: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        folded = _plain_char(char)
        out.append(folded)
        origins += [index] * len(folded)
    return "".join(out), origins


# --- validators: is this labelled text a value of its type? -----------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_cn_id(value: str) -> bool:
    if not re.fullmatch(r"[1-8]\d{16}[\dX]", value):
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if "10X98765432"[total % 11] != value[17]:
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= dt.date.today()


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def valid_card(value: str) -> bool:
    if not re.fullmatch(r"\d+(?:[ -]\d+)*", value):
        return False
    digits = re.sub(r"\D", "", value)
    return 13 <= len(digits) <= 19 and luhn(digits)


def valid_phone(value: str) -> bool:
    if not re.fullmatch(r"[+(]?[\d()][\d ()-]*\d", value):
        return False
    digits = re.sub(r"\D", "", value)
    if value.startswith("+"):
        return 8 <= len(digits) <= 15
    national = re.sub(r"^(?:0086|86)(?=1[3-9]\d{9}$)", "", digits)
    return bool(re.fullmatch(r"1[3-9]\d{9}|0[1-9]\d{1,2}[2-8]\d{6,7}", national))


def valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def valid_email(value: str) -> bool:
    return bool(EMAIL_RE.fullmatch(value))


def valid_passport(value: str) -> bool:
    return bool(re.fullmatch(r"[EG]\d{8}|E[A-HJ-NP-Z]\d{7}|[A-Z0-9]{8,9}", value))


def valid_person(value: str) -> bool:
    return (
        value == value.strip()
        and not re.search(r"[\d@:,;()]", value)
        and (bool(re.fullmatch(r"[\u4e00-\u9fff]{1,4}", value)) or value[:1].isupper())
    )


def _read_plain(valid: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda value: valid(plain(value))


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "EMAIL": _read_plain(valid_email),
    "PHONE": _read_plain(valid_phone),
    "CN_ID": _read_plain(valid_cn_id),
    "CARD": _read_plain(valid_card),
    "IP": _read_plain(valid_ip),
    "PASSPORT": _read_plain(valid_passport),
    "PERSON": _read_plain(valid_person),
}


# --- scoring -------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    id: str
    type: str
    start: int
    end: int
    text: str
    context: str  # the span with up to 12 characters around it, for reports

    def __str__(self) -> str:
        return f"{self.id} [{self.start}:{self.end}] {self.text!r} in {self.context!r}"


@dataclass
class TypeScore:
    type: str
    labelled: int = 0
    found: int = 0
    true_positives: int = 0
    misses: list[Span] = field(default_factory=list)
    false: list[Span] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.labelled if self.labelled else 1.0

    def report(self) -> str:
        lines = [
            f"{self.type}: precision {self.precision:.3f} ({self.true_positives}/{self.found}),"
            f" recall {self.recall:.3f} ({self.true_positives}/{self.labelled})"
        ]
        lines += [f"  missed  {span}" for span in self.misses]
        lines += [f"  false   {span}" for span in self.false]
        return "\n".join(lines)


def _span(snippet: dict, type_: str, start: int, end: int) -> Span:
    text = snippet["text"]
    context = text[max(0, start - 12) : end + 12].replace("\n", " ")
    return Span(snippet["id"], type_, start, end, text[start:end], context)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    start, end = max(0, start), min(len(text), end)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def score(
    corpus: Iterable[dict], detected: dict[str, list], types: Iterable[str] = TYPES
) -> dict[str, TypeScore]:
    """`detected` maps a snippet id to what the detector returned for its text (objects
    with `type`, `start` and `end`)."""
    scores = {t: TypeScore(t) for t in types}
    for snippet in corpus:
        gold = {(e["type"], e["start"], e["end"]) for e in snippet["entities"]}
        for e in snippet["entities"]:
            if e["type"] in scores:
                scores[e["type"]].labelled += 1
        matched: set[tuple[str, int, int]] = set()
        for entity in detected.get(snippet["id"], []):
            if entity.type not in scores:
                scores.setdefault(entity.type, TypeScore(entity.type))
            result = scores[entity.type]
            result.found += 1
            key = (entity.type, *_trimmed(snippet["text"], entity.start, entity.end))
            if key in gold and key not in matched:
                matched.add(key)
                result.true_positives += 1
            else:
                result.false.append(_span(snippet, entity.type, entity.start, entity.end))
        for key in sorted(gold - matched, key=lambda k: k[1]):
            if key[0] in scores:
                scores[key[0]].misses.append(_span(snippet, *key))
    return scores


def run_detector(corpus: Iterable[dict], detect: Callable[[str], list]) -> dict[str, list]:
    return {snippet["id"]: list(detect(snippet["text"])) for snippet in corpus}


def overall(scores: dict[str, TypeScore]) -> TypeScore:
    total = TypeScore("all")
    for s in scores.values():
        total.labelled += s.labelled
        total.found += s.found
        total.true_positives += s.true_positives
        total.misses += s.misses
        total.false += s.false
    return total
