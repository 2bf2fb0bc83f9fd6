"""BM25's words: Chinese segmented, English stemmed and lower-cased, stop words of both
languages gone."""

from __future__ import annotations

import pytest

from modelmint.knowledge.terms import Terms


@pytest.fixture(scope="module")
def terms() -> Terms:
    return Terms()


def test_chinese_is_segmented_into_words_without_stop_words(terms):
    found = terms("我爱编程，编程使我快乐。")
    assert "编程" in found and "快乐" in found
    assert "我" not in found and "，" not in found


def test_search_mode_also_yields_the_words_inside_a_long_one(terms):
    found = terms("中华人民共和国")
    assert {"中华", "人民", "共和国"} <= set(found)


def test_english_is_stemmed_lowercased_and_stop_words_dropped(terms):
    assert terms("The Running dogs were RUNNING to the parks") == ["run", "dog", "run", "park"]


def test_mixed_text_keeps_both_and_numbers(terms):
    found = terms("GPU 训练 takes 12 hours")
    assert found == ["gpu", "训练", "take", "12", "hour"]
