"""A knowledge base's index: hybrid search over chunks with file attributes, a threshold,
and weights that choose between words and meaning."""

from __future__ import annotations

import numpy as np
import pytest

from modelmint.knowledge.filters import compile_filter
from modelmint.knowledge.index import IndexedChunk, KnowledgeIndex, SearchOptions
from modelmint.knowledge.terms import Terms

CHUNKS = [  # fmt: skip
    IndexedChunk("file-cn", "returns_cn.md", "中国门店：购买后三十天内可以退货。",
                 {"region": "cn"}),
    IndexedChunk("file-uk", "returns_uk.md", "UK store: returns within 14 days of delivery.",
                 {"region": "uk"}),
    IndexedChunk("file-uk", "returns_uk.md", "Shipping in the UK costs £4.95.", {"region": "uk"}),
]
# stand-in embeddings: the first axis means "returns", the second "shipping"
VECTORS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex(Terms(), CHUNKS, VECTORS)


def test_words_and_meaning_together(index):
    hits = index.search("returns within how many days", np.array([1.0, 0.0]), SearchOptions())
    assert hits[0].chunk.text.startswith("UK store")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert 0 < hits[-1].score <= hits[0].score <= 1


def test_meaning_alone_finds_chinese_from_the_vector(index):
    options = SearchOptions(text_weight=0.0)
    hits = index.search("refund policy", np.array([1.0, 0.05]), options)
    assert hits[0].chunk.file_id == "file-cn"


def test_filters_apply_to_file_attributes(index):
    options = SearchOptions(filters=compile_filter({"type": "eq", "key": "region", "value": "cn"}))
    hits = index.search("returns", np.array([1.0, 0.0]), options)
    assert {h.chunk.file_id for h in hits} == {"file-cn"}


def test_max_results_and_threshold(index):
    assert len(index.search("returns", np.array([1.0, 0.0]), SearchOptions(max_results=1))) == 1
    high = SearchOptions(score_threshold=0.99)
    assert all(h.score >= 0.99 for h in index.search("returns", np.array([1.0, 0.0]), high))


def test_chunks_and_vectors_must_match():
    with pytest.raises(ValueError, match="embeddings"):
        KnowledgeIndex(Terms(), CHUNKS, VECTORS[:2])
