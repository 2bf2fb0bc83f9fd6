"""A file made ready for a knowledge base: its text cut into chunks, each with the words
BM25 counts in it, and the windows of a chunk that an embeddings model reads whole.

Chunks and windows are sized by `tokens.estimate_tokens`. A chunk's text and its terms
are stored together, encrypted and bound to their store (`seal` / `unseal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelmint.knowledge.chunking import chunk_text
from modelmint.knowledge.documents import document_text
from modelmint.knowledge.terms import Terms
from modelmint.knowledge.tokens import estimate_tokens
from modelmint.privacy.crypto import Keyring

_SEPARATOR = "\x1f"  # never inside a term (terms are letters, digits and ideographs)


@dataclass(frozen=True, slots=True)
class PreparedChunk:
    text: str
    tokens: int
    terms: tuple[str, ...]


def prepare(
    filename: str, content: bytes, terms: Terms, max_tokens: int, overlap: int
) -> list[PreparedChunk]:
    """The file's chunks; raises `DocumentError` when it cannot be read."""
    text = document_text(filename, content)
    return [
        PreparedChunk(chunk.text, chunk.tokens, tuple(terms(chunk.text)))
        for chunk in chunk_text(text, estimate_tokens, max_tokens, overlap)
    ]


def embedding_windows(text: str, window_tokens: int) -> list[str]:
    """`text` in consecutive pieces of at most `window_tokens` tokens (the whole text when
    it fits): a chunk longer than the embeddings model reads is embedded window by window
    and its vector is their mean."""
    if estimate_tokens(text) <= window_tokens:
        return [text]
    return [piece.text for piece in chunk_text(text, estimate_tokens, window_tokens, 0)]


def seal(keyring: Keyring, store_id: str, text: str, terms: Sequence[str]) -> tuple[str, bytes]:
    """(key id, blob): the chunk's text and terms encrypted, bound to its store."""
    return keyring.encrypt(" ".join(terms) + _SEPARATOR + text, _context(store_id))


def unseal(
    keyring: Keyring, store_id: str, key_id: str, blob: bytes
) -> tuple[str, tuple[str, ...]]:
    """(text, terms) of a `seal`ed chunk."""
    joined, _, text = keyring.decrypt(key_id, blob, _context(store_id)).partition(_SEPARATOR)
    return text, tuple(joined.split())


def reseal(keyring: Keyring, store_id: str, key_id: str, blob: bytes) -> tuple[str, bytes]:
    """A sealed chunk encrypted again with the active key (key rotation)."""
    return keyring.encrypt(keyring.decrypt(key_id, blob, _context(store_id)), _context(store_id))


def _context(store_id: str) -> str:
    return f"chunk:{store_id}"
