"""How many tokens a text is, estimated without a tokenizer, so that chunk sizes mean the
same whichever embeddings model (local or remote) a knowledge base uses: one token per
Chinese, Japanese or Korean character, one per four letters or digits of a word (at least
one), one per other visible character. Subword tokenizers (WordPiece, BPE) rarely cut a
text into more pieces than this, so a window sized by it fits the model."""

from __future__ import annotations

import re

_HAN = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_PIECES = re.compile(rf"(?P<han>[{_HAN}])|(?P<word>[^\W_{_HAN}]+)|(?P<other>[^\s{_HAN}])")


def estimate_tokens(text: str) -> int:
    tokens = 0
    for match in _PIECES.finditer(text):
        word = match.group("word")
        tokens += (len(word) + 3) // 4 if word else 1
    return tokens
