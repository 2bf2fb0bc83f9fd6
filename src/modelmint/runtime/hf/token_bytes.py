"""The bytes each token of a Hugging Face tokenizer stands for, which log-probabilities
report (`TokenLogprob.bytes`) and from which a caller finds where a token starts in the
text. Decoding one token on its own cannot say this: a token that holds part of a UTF-8
character decodes to U+FFFD.

Byte-level BPE vocabularies (GPT-2's, SmolLM2's, Llama 3's) spell each byte as one
printable character; SentencePiece vocabularies write a space as "▁" and an unknown byte
as "<0xNN>". A special token (`<s>`, `<|im_start|>`) is no text: no bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def byte_alphabet() -> dict[str, int]:
    """Byte-level BPE's printable character for each byte value, inverted: the printable
    Latin-1 bytes stand for themselves, the other 68 for the characters from U+0100 on."""
    kept = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = (b for b in range(256) if b not in kept)
    alphabet = {chr(b): b for b in kept}
    alphabet |= {chr(0x100 + n): b for n, b in enumerate(extra)}
    return alphabet


def token_bytes(tokenizer: Any) -> Callable[[int], bytes]:
    """`piece(token_id)`: the token's bytes, for `tokenizer`'s kind of vocabulary."""
    byte_level = _decoder_type(tokenizer) == "ByteLevel"
    alphabet = byte_alphabet()
    special = frozenset(tokenizer.all_special_ids)

    def piece(token: int) -> bytes:
        text = tokenizer.convert_ids_to_tokens(token)
        if text is None or token in special:
            return b""  # as llama.cpp renders a control token: it spells no text
        if byte_level and all(ch in alphabet for ch in text):
            return bytes(alphabet[ch] for ch in text)
        match = _BYTE_TOKEN.fullmatch(text)
        if match:
            return bytes([int(match.group(1), 16)])
        return text.replace("\u2581", " ").encode()

    return piece


def _decoder_type(tokenizer: Any) -> str | None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    decoder = json.loads(backend.to_str()).get("decoder") or {}
    if decoder.get("type") == "Sequence":
        types = {d.get("type") for d in decoder.get("decoders", [])}
        return "ByteLevel" if "ByteLevel" in types else "Sequence"
    return decoder.get("type")
