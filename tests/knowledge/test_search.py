"""Keyword (BM25), embedding and fused rankings over a handful of chunks."""

from __future__ import annotations

import numpy as np
import pytest

from modelmint.knowledge.fusion import fuse, top
from modelmint.knowledge.keyword_index import KeywordIndex
from modelmint.knowledge.terms import Terms
from modelmint.knowledge.vector_index import VectorIndex

CHUNKS = [
    "人工智能是计算机科学的一个分支，研究如何让机器模拟人的智能。",
    "今天的天气很好，我们的的的的的的的的的的的的心情也很好。",
    "编程是一种创造的过程，编程使我快乐。",
    "Our shoes are made for runners who run every morning.",
    "The weather in the mountains changes quickly in spring.",
]


@pytest.fixture(scope="module")
def keyword() -> KeywordIndex:
    terms = Terms()
    return KeywordIndex(terms, [terms(chunk) for chunk in CHUNKS])


def test_a_chinese_question_finds_its_chunk(keyword):
    assert top(keyword.scores("什么是人工智能？"), 3)[0] == 0
    assert top(keyword.scores("我喜欢编程"), 3)[0] == 2


def test_a_common_word_does_not_dominate(keyword):
    # "的" fills chunk 1, but it is a stop word: only 天气 counts
    assert list(top(keyword.scores("的天气"), 5)) == [1]


def test_english_matches_through_stems(keyword):
    assert top(keyword.scores("running shoes"), 3)[0] == 3


def test_a_query_sharing_no_word_ranks_nothing(keyword):
    assert len(top(keyword.scores("量子 entanglement"), 5)) == 0


def test_an_empty_index_scores_nothing():
    assert KeywordIndex(Terms(), []).scores("anything").shape == (0,)
    assert VectorIndex(np.zeros((0, 3))).scores(np.ones(3)).shape == (0,)


def test_vectors_rank_by_cosine_similarity():
    index = VectorIndex(np.array([[1.0, 0, 0], [0, 10.0, 0], [1.0, 1.0, 0]]))
    scores = index.scores(np.array([0.1, 2.0, 0.0]))
    assert list(top(scores, 3)) == [1, 2, 0]
    assert list(top(index.scores(np.array([0.0, 0.0, 1.0])), 3)) == []  # orthogonal to all


def test_fusion_weights_and_filters():
    text = np.array([3.0, 2.0, 1.0, 0.0])
    embedding = np.array([0.1, 0.2, 0.9, 0.8])
    assert [r.index for r in fuse(text, embedding, 4, embedding_weight=0)] == [0, 1, 2]
    assert [r.index for r in fuse(text, embedding, 4, text_weight=0)] == [2, 3, 1, 0]
    both = fuse(text, embedding, 2)
    assert len(both) == 2 and both[0].index in (1, 2)
    # a chunk second in both rankings beats one first in one and fourth in the other
    first_and_last = fuse(np.array([4.0, 3.0, 0.5, 1.0]), np.array([0.1, 0.8, 0.9, 0.7]), 1)
    assert first_and_last[0].index == 1
    allowed = np.array([True, False, True, True])
    assert 1 not in [r.index for r in fuse(text, embedding, 4, allowed=allowed)]
    ranked = fuse(text, embedding, 1)[0]
    assert ranked.text_score == text[ranked.index]
    # first in both rankings: the most a fused score can be
    assert fuse(np.array([2.0, 1.0]), np.array([0.9, 0.1]), 1)[0].score == pytest.approx(1.0)
    assert all(0 < r.score < 1 for r in fuse(text, embedding, 4))
