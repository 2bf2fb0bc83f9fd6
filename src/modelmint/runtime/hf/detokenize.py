"""Incremental detokenizing with a Hugging Face tokenizer: the text each new token adds.

Decoding token by token breaks words that span tokens (byte fallback, SentencePiece
spaces), so the text of a short window before the new token is decoded with and without
it and the difference is emitted; a window that ends inside a UTF-8 character (U+FFFD)
waits for the next token.
"""

from __future__ import annotations

from typing import Any


class Detokenizer:
    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # start of the window decoded for context
        self.read = 0  # tokens whose text has been emitted

    def feed(self, token: int) -> str:
        self.ids.append(token)
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix : self.read], skip_special_tokens=True)
        now = decode(self.ids[self.prefix :], skip_special_tokens=True)
        if len(now) > len(before) and not now.endswith("\ufffd"):
            self.prefix, self.read = self.read, len(self.ids)
            return now[len(before) :]
        return ""

    def flush(self) -> str:
        """What is left when generation ends (a cut character is dropped)."""
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix : self.read], skip_special_tokens=True)
        now = decode(self.ids[self.prefix :], skip_special_tokens=True)
        self.prefix = self.read = len(self.ids)
        return now[len(before) :].rstrip("\ufffd")
