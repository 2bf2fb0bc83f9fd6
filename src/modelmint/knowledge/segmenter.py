"""Chinese words by jieba, one dictionary for whoever shares the segmenter: BM25's terms
and the glossary read the same one. jieba's dictionary (about 350,000 words, most of a
second and some tens of MB) loads on the first text cut, not when the app is made."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any


class Segmenter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jieba: Any = None

    def _tokenizer(self) -> Any:
        if self._jieba is None:
            with self._lock:
                if self._jieba is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    self._jieba = jieba.Tokenizer()
        return self._jieba

    def cut(self, text: str) -> Iterator[str]:
        """The words of `text`, each once (jieba's accurate mode)."""
        return self._tokenizer().cut(text)

    def cut_for_search(self, text: str) -> Iterator[str]:
        """The words of `text`, a long word followed by the shorter words inside it."""
        return self._tokenizer().cut_for_search(text)
