"""PII detection for Chinese and English text: regular expressions find candidates,
validators (checksums, ranges, address parsing) keep precision high.

Structured types: e-mail; phone (mainland mobile and landline, +86, international E.164);
mainland resident ID (18 characters, ISO 7064 MOD 11-2 checksum and a real birth date);
bank and credit cards (Luhn, known leading digits); IPv4 and IPv6; passports (mainland
E/G numbers, and any number after a "passport"/"护照" cue). Person names are found only
after cues ("my name is", "Mr.", "姓名：", "张先生"), which keeps them precise but partial.

Digits touching Chinese characters have no regex word boundary, so candidates are fenced
with explicit look-arounds instead of \\b. Numbers (resident IDs, cards, phones) may have
letters glued in front (`tel13812345678`, `cardno4111...`, `ID110105...`): only a digit
before them, a letter after an ID or card, or letters on both sides of a phone number make
a longer token of them (`a3f13812345678be` in a hash is none). Passports and
IP addresses keep letters out on both sides (`TYPE12345678`, `v1.2.3.4` are no values).

The detectors read the text folded (`normalize.fold`: full-width forms, zero-width and
other format characters, odd spaces and dashes) and report spans of the text as written.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import date

from modelmint.privacy.entities import (
    CARD,
    CN_ID,
    EMAIL,
    IP,
    PASSPORT,
    PERSON,
    PHONE,
    Entity,
)
from modelmint.privacy.normalize import Folded, fold

# When two candidates overlap, the longer wins; on a tie, the earlier type in this list.
PRIORITY = (EMAIL, CN_ID, CARD, PHONE, IP, PASSPORT, PERSON)
# how far around a format character the text is read again with it as a space
FORMAT_REACH = 64

EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@"
    r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
# A pattern starts with what its first character may be, which lets `re` skip ahead fast:
# a class, then `(?<![0-9].)` (no digit before it), or a look-ahead `(?=[...])`.
CN_ID_RE = re.compile(r"[1-9](?<![0-9].)\d{16}[0-9Xx](?![0-9A-Za-z])")
CARD_RE = re.compile(r"[2-6](?<![0-9].)(?<![0-9]-.)\d{3}(?:[ \-]?\d){9,15}(?![0-9A-Za-z])")
MOBILE_RE = re.compile(
    r"(?=[+081])(?<![0-9+])(?:(?:\+|00)?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2}(?![0-9])"
)
LANDLINE_RE = re.compile(
    r"(?=[+0(])(?<![0-9])(?:(?:\+|00)86[ \-]?)?"
    r"(?:\(0?(?:10|2\d|[3-9]\d{2})\)[ \-]?|0(?:10|2\d|[3-9]\d{2})[ \-])"
    r"\d{3,4}[ \-]?\d{4}(?![0-9])"
)
INTERNATIONAL_RE = re.compile(
    r"\+(?<![0-9+].)[1-9]\d{0,2}(?:(?:[ \-]\d{1,8}){1,6}|\d{5,13})(?![0-9])"
)
IPV4_RE = re.compile(r"(?=\d)(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)")
IPV6_RE = re.compile(
    r"(?=[0-9A-Fa-f:])(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![0-9A-Za-z:.])"
)
PASSPORT_CN_RE = re.compile(
    r"(?=[EG])(?<![0-9A-Za-z])(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7})(?![0-9A-Za-z])"
)
PASSPORT_CUE_RE = re.compile(
    r"(?:passport(?:\s*(?:number|no\.?|num\.?|#))?|护照(?:号码|号)?)[\s:：#.]*"
    r"([A-Z0-9]{6,10})(?![0-9A-Za-z])",
    re.IGNORECASE,
)

_EN_WORD = r"(?!(?:Sir|Madam|Customer|Team|All|Support|Passport|Name|Email|Phone)\b)" + (
    r"[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:['\-][A-Z]?[a-z]+)?"
)
_EN_NAME = rf"({_EN_WORD}(?:[ \t]+{_EN_WORD}){{0,2}})"
PERSON_EN_RE = re.compile(
    r"(?:\b(?:[Mm]y name is|I am|I'm|[Tt]his is|[Nn]ame\s*[:=]|[Cc]ontact\s*:|[Dd]ear|"
    r"[Ss]igned,|[Rr]egards,|[Ss]incerely,|[Tt]hanks,|[Aa]ttn:|[Hh]older|[Cc]ustomer)\s+"
    r"(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)?"
    r"|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)" + _EN_NAME
)
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤"
)
_HAN = r"[\u4e00-\u9fff]"
PERSON_ZH_CUE_RE = re.compile(
    rf"(?:我叫|我是|我的名字是|姓名[:：]?\s*|联系人[:：]?\s*|收件人[:：]?\s*|客户[:：]\s*|"
    rf"持卡人[:：]?\s*|户名[:：]?\s*|旅客|紧急联系人)"
    rf"([{SURNAMES}]{_HAN}{{1,2}})"
    rf"(?=[，。,.!！？?\s:：；;、）)]|$|先生|女士|小姐|的|电话|手机|邮箱|身份证|护照|，)"
)
PERSON_ZH_TITLE_RE = re.compile(rf"([{SURNAMES}]{_HAN}{{0,2}}?)(?:先生|女士|小姐|经理|老师)")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def valid_cn_id(text: str) -> bool:
    digits = text.upper()
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= date.today().year:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == digits[17]


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match) -> bool:
    text = match.group()
    digits = re.sub(r"[ \-]", "", text)
    if not 13 <= len(digits) <= 19 or not luhn(digits):
        return False
    groups = re.split(r"[ \-]", text)
    # grouped numbers come in groups of 4 (or Amex's 4-6-5), never one digit at a time
    return len(groups) == 1 or all(3 <= len(g) <= 6 for g in groups)


def _phone(match: re.Match) -> bool:
    """Not inside a word: letters glued on both sides make it part of a token (a hash, a
    serial number), while `tel13812345678` or `13812345678号` is a number."""
    text, start, end = match.string, match.start(), match.end()
    before = start > 0 and text[start - 1].isascii() and text[start - 1].isalpha()
    after = end < len(text) and text[end].isascii() and text[end].isalpha()
    return not (before and after)


def _international(match: re.Match) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 8 <= len(digits) <= 15 and _phone(match)


def _ipv4(match: re.Match) -> bool:
    return all(
        int(part) <= 255 and (part == "0" or not part.startswith("0"))
        for part in match.group().split(".")
    )


def _ipv6(match: re.Match) -> bool:
    text = match.group()
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    groups = [g for g in text.split(":") if g]
    return any(c.isdigit() for c in text) and (
        len(groups) >= 3 or ("::" in text and len(groups) >= 2)
    )


def _always(match: re.Match) -> bool:
    return True


# (type, pattern, validator, group): group 1 when a cue precedes the value
DETECTORS: tuple[tuple[str, re.Pattern, Callable[[re.Match], bool], int], ...] = (
    (EMAIL, EMAIL_RE, _always, 0),
    (CN_ID, CN_ID_RE, lambda m: valid_cn_id(m.group()), 0),
    (CARD, CARD_RE, _card, 0),
    (PHONE, MOBILE_RE, _phone, 0),
    (PHONE, LANDLINE_RE, _phone, 0),
    (PHONE, INTERNATIONAL_RE, _international, 0),
    (IP, IPV4_RE, _ipv4, 0),
    (IP, IPV6_RE, _ipv6, 0),
    (PASSPORT, PASSPORT_CN_RE, _always, 0),
    (PASSPORT, PASSPORT_CUE_RE, lambda m: any(c.isdigit() for c in m.group(1)), 1),
    (PERSON, PERSON_EN_RE, _always, 1),
    (PERSON, PERSON_ZH_CUE_RE, _always, 1),
    (PERSON, PERSON_ZH_TITLE_RE, _always, 1),
)


def _found(text: str) -> Iterator[tuple[str, int, int]]:
    for kind, pattern, valid, group in DETECTORS:
        for match in pattern.finditer(text):
            if valid(match):
                yield (kind, *match.span(group))


def _windows(positions: list[int], size: int, reach: int) -> list[tuple[int, int]]:
    """The spans within `reach` of the positions, overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for position in sorted(positions):
        low, high = max(0, position - reach), min(size, position + reach + 1)
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _glued(dropped: Folded, spaced: Folded) -> list[int]:
    """Where in `spaced` the format characters are whose dropping glued two letters or
    digits together (elsewhere, reading them as spaces finds nothing more)."""
    text = dropped.text
    return [
        at
        for cut, at in zip(dropped.formats, spaced.formats, strict=True)
        if 0 < cut < len(text) and text[cut - 1].isalnum() and text[cut].isalnum()
    ]


def _found_near(folded: Folded, positions: list[int]) -> Iterator[tuple[str, int, int]]:
    """What the detectors find near `positions` of `folded`, whole (an entity a window's
    edge cuts is left out)."""
    size = len(folded.text)
    for low, high in _windows(positions, size, FORMAT_REACH):
        for kind, start, end in _found(folded.text[low:high]):
            cut = (start == 0 and low > 0) or (end == high - low and high < size)
            if not cut:
                yield kind, start + low, end + low


def _candidates(text: str) -> Iterator[Entity]:
    """Candidates from the text folded (as it is when nothing folds), and, where format
    characters were dropped, from the text around them read with them as spaces: one
    between two numbers must not glue them into one that is neither."""
    folded = fold(text)
    if folded is None:
        for kind, start, end in _found(text):
            yield Entity(kind, start, end, text[start:end])
        return
    readings = [(folded, _found(folded.text))]
    spaced = fold(text, " ") if folded.formats else None
    glued = _glued(folded, spaced) if spaced is not None else []
    if spaced is not None and glued:
        readings.append((spaced, _found_near(spaced, glued)))
    for reading, found in readings:
        for kind, start, end in found:
            start, end = reading.span(start, end)
            yield Entity(kind, start, end, text[start:end])


def detect(text: str) -> list[Entity]:
    """Every PII entity in `text`, in order, without overlaps; spans and values are those
    of `text` as written (a zero-width space inside a number is inside its span)."""
    rank = {kind: i for i, kind in enumerate(PRIORITY)}
    chosen: list[Entity] = []
    taken: list[tuple[int, int]] = []
    ordered = sorted(_candidates(text), key=lambda e: (-(e.end - e.start), rank[e.type], e.start))
    for entity in ordered:
        if all(entity.end <= s or entity.start >= e for s, e in taken):
            chosen.append(entity)
            taken.append((entity.start, entity.end))
    return sorted(chosen, key=lambda e: e.start)
