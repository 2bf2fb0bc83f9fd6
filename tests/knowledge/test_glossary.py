"""English glosses of Chinese: the seed sentence reads as love and happiness, negations
and digits stay, text without Chinese is untouched, a dictionary entry's notes and
cross-references are not taken for its meaning."""

from __future__ import annotations

import pytest

from modelmint.knowledge.glossary import Glossary, plain_sense


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary()


def test_the_seed_sentence_reads_as_love_and_happiness(glossary):
    words = glossary.gloss("我爱编程，编程使我快乐。").split()
    assert "love" in words and "happy." in words


def test_negations_digits_and_latin_words_stay(glossary):
    glossed = glossary.gloss("订单号20240312887一直没有收到 iPhone")
    assert "20240312887" in glossed and "iPhone" in glossed
    assert "haven't" in glossed or "not" in glossed.split()


def test_text_without_chinese_is_untouched(glossary):
    assert glossary.gloss("The kettle broke, twice.") == "The kettle broke, twice."


def test_a_word_the_dictionary_lacks_reads_as_its_longest_known_pieces():
    senses = {"退款": "refund", "退": "retreat", "编程": "program"}
    assert Glossary._pieces("退款啊编程", senses) == ["refund", "program"]


@pytest.mark.parametrize(
    ("definitions", "sense"),
    [
        ("surname Li/plum", "plum"),
        ("variant of 個|个[ge4]/CL:個|个[ge4]", None),
        ("to eat (sth)/to consume", "eat"),
        ("bill; check/invoice", "bill"),
    ],
)
def test_a_plain_sense_skips_notes_and_cross_references(definitions, sense):
    assert plain_sense(definitions) == sense
