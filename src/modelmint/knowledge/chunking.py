"""A document's text cut into chunks of at most `max_tokens` tokens, each overlapping the
one before by at most `overlap` tokens (OpenAI's static chunking strategy; its `auto` is
800 and 400).

Cuts fall where the text pauses: between paragraphs, then after the end of a sentence in
Chinese or English (。！？；.!?;), then after a clause (，、：,:), then at a space, and
inside a run of characters only when nothing else fits. Tokens are counted by the
function given (the embeddings model's tokenizer in the server).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_TOKENS = 800
DEFAULT_OVERLAP = 400
MIN_MAX_TOKENS, MAX_MAX_TOKENS = 100, 4096

# each level splits what the one before left too long; the cut is kept with the left part
_LEVELS = (
    re.compile(r"(?<=\n)\s*\n"),  # paragraphs
    re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?=\s)"),  # sentences
    re.compile(r"(?<=[，、：,:])"),  # clauses
    re.compile(r"(?<=\s)(?=\S)"),  # words
)


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    start: int  # character offsets into the document
    end: int
    tokens: int


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    tokens: int


def check_sizes(max_tokens: int, overlap: int) -> None:
    """OpenAI's bounds: 100-4096 tokens a chunk, an overlap of at most half of that."""
    if not MIN_MAX_TOKENS <= max_tokens <= MAX_MAX_TOKENS:
        raise ValueError(
            f"max_chunk_size_tokens must be between {MIN_MAX_TOKENS} and {MAX_MAX_TOKENS}"
        )
    if not 0 <= overlap <= max_tokens // 2:
        raise ValueError("chunk_overlap_tokens must be between 0 and half of max_chunk_size_tokens")


def chunk_text(
    text: str,
    count: Callable[[str], int],
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
) -> list[Chunk]:
    """The chunks of `text`, in order; none for text that is only white space."""
    if overlap > max_tokens // 2:
        raise ValueError("the overlap must be at most half of max_tokens")
    pieces = _pieces(text, 0, len(text), count, max_tokens, 0)
    chunks: list[Chunk] = []
    first = 0
    while first < len(pieces):
        last, size = first, pieces[first].tokens
        while last + 1 < len(pieces) and size + pieces[last + 1].tokens <= max_tokens:
            last += 1
            size += pieces[last].tokens
        start, end = pieces[first].start, pieces[last].end
        body = text[start:end]
        if body.strip():
            lead = len(body) - len(body.lstrip())
            chunks.append(Chunk(body.strip(), start + lead, start + len(body.rstrip()), size))
        if last + 1 >= len(pieces):
            break
        first = _overlap_start(pieces, first, last, overlap)
    return chunks


def _overlap_start(pieces: list[_Piece], first: int, last: int, overlap: int) -> int:
    """Where the next chunk starts: as far back from `last` as `overlap` tokens reach,
    always after `first` so that every chunk moves on."""
    start, carried = last + 1, 0
    while start - 1 > first and carried + pieces[start - 1].tokens <= overlap:
        start -= 1
        carried += pieces[start].tokens
    return start


def _pieces(
    text: str, start: int, end: int, count: Callable[[str], int], limit: int, level: int
) -> list[_Piece]:
    """`text[start:end]` cut at `level`'s marks, and each part still over `limit` tokens
    cut again at the next level down."""
    if level == len(_LEVELS):
        return _by_characters(text, start, end, count, limit)
    cuts = [start, *(start + m.start() for m in _LEVELS[level].finditer(text[start:end])), end]
    found: list[_Piece] = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        if left == right:
            continue
        tokens = count(text[left:right])
        if tokens <= limit:
            found.append(_Piece(left, right, tokens))
        else:
            found += _pieces(text, left, right, count, limit, level + 1)
    return found


def _by_characters(
    text: str, start: int, end: int, count: Callable[[str], int], limit: int
) -> list[_Piece]:
    """A run with no place to cut: the longest prefixes that fit, one after another."""
    found = []
    while start < end:
        low, high = start + 1, end  # the longest fitting end, by bisection
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[start:middle]) <= limit:
                low = middle
            else:
                high = middle - 1
        found.append(_Piece(start, low, count(text[start:low])))
        start = low
    return found
