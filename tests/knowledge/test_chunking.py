"""Chunks: within the size, overlapping by at most the overlap, covering the whole text,
and cut where the text pauses (Chinese and English sentence ends first)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmint.knowledge.chunking import check_sizes, chunk_text


def count(text: str) -> int:
    """One token per non-space character: easy to reason about in a test."""
    return sum(not c.isspace() for c in text)


def covered(text: str, chunks) -> bool:
    seen = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        for i in range(chunk.start, chunk.end):
            seen[i] = True
    return all(seen[i] or text[i].isspace() for i in range(len(text)))


def test_chinese_sentences_are_not_cut_in_the_middle():
    sentences = ["人工智能是计算机科学的一个分支。", "它研究如何让机器思考！",
                 "机器学习是其核心吗？"]  # fmt: skip
    text = "".join(sentences * 4)
    chunks = chunk_text(text, count, max_tokens=40, overlap=10)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.tokens <= 40 and chunk.text[-1] in "。！？"
    assert covered(text, chunks)


def test_english_prefers_paragraphs_then_sentences():
    first = "The first paragraph is short. It has two sentences."
    second = "The second one is also short. It ends here."
    chunks = chunk_text(f"{first}\n\n{second}", count, max_tokens=45, overlap=0)
    assert [c.text for c in chunks] == [first, second]


def test_the_overlap_repeats_the_end_of_the_chunk_before():
    text = " ".join(f"Sentence number {i} is here." for i in range(30))
    chunks = chunk_text(text, count, max_tokens=100, overlap=40)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.start < after.start <= before.end
        shared = text[after.start : before.end]
        assert 0 < count(shared) <= 40


def test_a_run_with_nowhere_to_cut_is_cut_by_characters():
    text = "字" * 250
    chunks = chunk_text(text, count, max_tokens=100, overlap=0)
    assert [c.tokens for c in chunks] == [100, 100, 50]


def test_empty_text_has_no_chunks():
    assert chunk_text(" \n\n ", count) == []


@pytest.mark.parametrize(("size", "overlap"), [(99, 0), (4097, 0), (800, 401), (800, -1)])
def test_openai_bounds_are_checked(size, overlap):
    with pytest.raises(ValueError, match="chunk"):
        check_sizes(size, overlap)


PIECES = st.sampled_from(
    ["word", "知识", "。", "！", ". ", ", ", "，", " ", "\n", "\n\n", "长长长长长"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=300), st.integers(100, 300), st.data())
def test_any_text_is_covered_in_chunks_within_the_limits(parts, size, data):
    overlap = data.draw(st.integers(0, size // 2))
    text = "".join(parts)
    chunks = chunk_text(text, count, max_tokens=size, overlap=overlap)
    assert all(0 < c.tokens <= size for c in chunks)
    assert all(a.start < b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert covered(text, chunks)
