"""Answers taken from the documents: the sentences of the best chunks that answer a
question, chosen by the share of the question's words they contain (each word weighted
by how rare it is among the candidates), how close their meaning is, the rank of their
chunk and whether they name the kind of answer the question asks for (answer_types.py);
and a plain "not found" when none does.

A small model asked to answer from retrieved text often echoes the prompt or invents
(measured: SmolLM2-135M answered 4 of 16 such questions, none in Chinese); quoting the
supporting sentences is faithful by construction and cites exactly what it quotes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modelmint.knowledge.answer_types import AnswerType, expected_type, holds
from modelmint.knowledge.terms import Terms

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# a sentence ends after 。！？； (or .!?; before a space) or at a line break
_ENDS = re.compile(r"(?<=[。！？；])|(?<=[.!?;])(?=\s)|\n+")
_MARKUP = re.compile(r"^[#>*\-+\s|]+|\*\*|__|`")
MIN_CHARS = 4

# weights and thresholds measured on benchmarks/knowledge_set with knowledge_ask.py
COVERAGE_WEIGHT, MEANING_WEIGHT, RANK_WEIGHT, TYPE_WEIGHT = 0.4, 0.4, 0.2, 0.5
MIN_COVERAGE, MIN_MEANING = 0.34, 0.45
CLOSE = 0.85  # a second sentence is quoted when it scores this share of the best

NOT_FOUND = {
    "zh": "抱歉，资料中没有找到这个问题的答案。",
    "en": "Sorry, the documents do not answer this question.",
}


def language_of(text: str) -> str:
    """ "zh" for text with Chinese characters, else "en"."""
    return "zh" if _HAN.search(text) else "en"


def sentences(text: str) -> list[str]:
    """The sentences of a chunk, without Markdown markup; headings are left out (they
    name a topic, they do not answer)."""
    found = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for piece in _ENDS.split(line):
            clean = _MARKUP.sub("", piece).strip()
            if len(clean) >= MIN_CHARS:
                found.append(clean)
    return found


@dataclass(frozen=True, slots=True)
class Candidate:
    text: str
    source: int  # which search hit it came from
    rank_score: float  # that hit's search score, in (0, 1]


@dataclass(frozen=True, slots=True)
class Evidence:
    candidate: Candidate
    coverage: float  # the weighted share of the question's words it contains
    meaning: float  # cosine similarity of its embedding to the question's
    typed: bool  # it names an answer of the kind the question asks for
    score: float

    def answers(self, answer_type: AnswerType | None) -> bool:
        """Close enough to answer, and of the right kind when the question asks for a
        particular kind (a number of days, an amount of money...)."""
        if answer_type is not None and answer_type.name != "count" and not self.typed:
            return False
        return self.coverage >= MIN_COVERAGE or self.meaning >= MIN_MEANING


def rank_evidence(
    terms: Terms,
    question: str,
    candidates: Sequence[Candidate],
    similarities: np.ndarray,
) -> list[Evidence]:
    """The candidates, best evidence first; `similarities[i]` is candidate i's cosine
    similarity to the question."""
    wanted = set(terms(question))
    answer_type = expected_type(question)
    found = [set(terms(candidate.text)) for candidate in candidates]
    frequency: dict[str, int] = {}
    for words in found:
        for word in words & wanted:
            frequency[word] = frequency.get(word, 0) + 1
    weight = {w: math.log(1 + len(candidates) / (1 + frequency.get(w, 0))) for w in wanted}
    total = sum(weight.values()) or 1.0
    ranked = []
    for candidate, words, meaning in zip(candidates, found, similarities, strict=True):
        coverage = sum(weight[w] for w in wanted & words) / total
        # the right kind of answer counts only in a sentence about the question
        typed = holds(answer_type, candidate.text) and (coverage > 0 or meaning >= MIN_MEANING)
        score = (
            COVERAGE_WEIGHT * coverage
            + MEANING_WEIGHT * float(meaning)
            + RANK_WEIGHT * candidate.rank_score
            + TYPE_WEIGHT * typed
        )
        ranked.append(Evidence(candidate, coverage, float(meaning), typed, score))
    ranked.sort(key=lambda e: -e.score)
    return ranked


def chosen(question: str, ranked: Sequence[Evidence], most: int = 2) -> list[Evidence]:
    """What the answer quotes: the best evidence, and the next best when it is nearly as
    good; nothing when the best does not answer."""
    answer_type = expected_type(question)
    if not ranked or not ranked[0].answers(answer_type):
        return []
    best = ranked[0]
    picked = [best]
    for other in ranked[1:most]:
        if other.score >= CLOSE * best.score and other.answers(answer_type):
            picked.append(other)
    return picked


def compose(question: str, picked: Sequence[Evidence], language: str | None = None) -> str:
    """The quoted sentences, or "not found" in `language` (the question's by default)."""
    language = language or language_of(question)
    if not picked:
        return NOT_FOUND[language]
    separator = "" if language == "zh" else " "
    return separator.join(e.candidate.text for e in picked)
