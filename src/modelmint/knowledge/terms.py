"""The words BM25 counts. Chinese is segmented by jieba (search mode, so a long word also
yields the shorter words inside it), other scripts split into runs of letters and digits,
English words are stemmed (Snowball), and the stop words of both languages are left out,
so that a word every document has cannot dominate a score."""

from __future__ import annotations

import re

from modelmint.knowledge.segmenter import Segmenter

# CJK ideographs (the unified blocks and their extensions)
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>[^\W_{_HAN}]+)")


class Terms:
    """`terms(text)`: the text's words as BM25 indexes and queries them, in order."""

    def __init__(self, segmenter: Segmenter | None = None) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_CHINESE, STOPWORDS_EN_PLUS

        self.segmenter = segmenter or Segmenter()
        self._stem = Stemmer.Stemmer("english").stemWord
        self._stop = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_CHINESE)

    def __call__(self, text: str) -> list[str]:
        found: list[str] = []
        for match in _TOKEN.finditer(text):
            if match.group("han"):
                words = self.segmenter.cut_for_search(match.group("han"))
                found += [w for w in words if w not in self._stop]
                continue
            word = match.group("word").casefold()
            if word in self._stop:
                continue
            found.append(self._stem(word) if word.isascii() else word)
        return found
