"""Folding text for the detectors (`modelmint.privacy.normalize`): what folds and what is
left alone, the map back to the text as written, and the fast path."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from modelmint.privacy import normalize
from modelmint.privacy.normalize import KEPT, fold, fold_char


def folded_text(text: str, format_as: str = "") -> str:
    folded = fold(text, format_as)
    return text if folded is None else folded.text


def test_ascii_and_plain_chinese_take_the_fast_path():
    assert fold("Call 138-1234-5678, mail a@b.cn") is None
    assert fold("请帮我查一下订单，谢谢！姓名：王小明；电话？") is None  # kept punctuation
    assert fold("“引号”、《书名》——破折号。") is None
    assert fold("") is None


def test_full_width_forms_fold_to_ascii():
    assert folded_text("电话１３８１２３４５６７８") == "电话13812345678"
    assert folded_text("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｎ") == "zhang@example.cn"
    assert folded_text("ＩＤ１１０１０５１９４９１２３１００２Ｘ") == "ID11010519491231002X"
    assert folded_text("（０７５５）１２３４５６７８") == "(0755)12345678"
    assert folded_text("＋８６　１３８") == "+86 138"


def test_format_characters_are_dropped_or_read_as_spaces():
    for char in "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u00ad\u202e\u2066\u061c":
        text = f"138{char}1234{char}5678"
        assert folded_text(text) == "13812345678", repr(char)
        assert folded_text(text, " ") == "138 1234 5678", repr(char)


def test_spaces_dashes_and_digits_of_other_scripts():
    for space in "\u00a0\u3000\u2009\u202f\u2002\u2007":
        assert folded_text(f"138{space}1234") == "138 1234", repr(space)
    for dash in "\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d":
        assert folded_text(f"010{dash}1234") == "010-1234", repr(dash)
    assert folded_text("١٣٨١٢٣٤٥٦٧٨") == "13812345678"
    assert folded_text("१३८१२३४५६७८") == "13812345678"
    assert folded_text("—") == "—"  # an em dash is punctuation, not a separator


def test_marks_written_beside_a_number_are_left_alone():
    # folded, they would glue themselves onto the number: 13812345678¹ -> 138123456781
    for mark in "¹²³₁₂①⑩½":
        assert fold_char(mark) == mark
    assert folded_text("13812345678¹，①13912345678") == "13812345678¹，①13912345678"
    for char in KEPT:
        assert fold_char(char) == char


def test_span_maps_folded_spans_back_to_the_text_as_written():
    text = "tel：１３８\u200b１２３４\u200b５６７８ ok"
    folded = fold(text)
    assert folded is not None and folded.text == "tel：13812345678 ok"
    start = folded.text.index("138")
    assert folded.span(start, start + 11) == (4, 17)  # the zero-width spaces inside too
    assert text[4:17] == "１３８\u200b１２３４\u200b５６７８"
    assert folded.span(0, 3) == (0, 3)
    ok = folded.text.index("ok")
    assert folded.span(ok, ok + 2) == (len(text) - 2, len(text))


def test_a_character_that_folds_into_several_maps_back_whole():
    text = "5㎏ and ﬁne"
    folded = fold(text)
    assert folded is not None and folded.text == "5kg and fine"
    assert folded.span(1, 2) == (1, 2) and folded.span(2, 3) == (1, 2)  # k and g: ㎏
    assert folded.span(8, 10) == (7, 8)  # "fi" is one character as written


def test_formats_records_where_format_characters_were_read():
    text = "a\u200bb\u200b\u200bc"
    dropped, spaced = fold(text), fold(text, " ")
    assert dropped is not None and spaced is not None
    assert (dropped.text, dropped.formats) == ("abc", [1, 2, 2])
    assert (spaced.text, spaced.formats) == ("a b  c", [1, 3, 4])
    assert fold("\u200b\u200b") is not None and fold("\u200b\u200b").text == ""


def test_what_the_fast_path_skips_never_folds():
    """Every BMP character `fold` does not look at folds to itself."""
    suspect = normalize._SUSPECT
    skipped = [chr(c) for c in range(0x10000) if not suspect.match(chr(c))]
    assert len(skipped) > 39000
    changed = [c for c in skipped if fold_char(c) != c]
    assert not changed, [hex(ord(c)) for c in changed[:20]]


def test_every_format_character_is_looked_at():
    formats = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    assert len(formats) > 150
    missed = [c for c in formats if not normalize._SUSPECT.match(c) or fold_char(c) is not None]
    assert not missed, [hex(ord(c)) for c in missed]


pieces = st.lists(
    st.sampled_from(
        list("13x@. -，：王")
        + ["１", "３", "＠", "．", "　", "\u00a0", "\u200b", "\u2060", "\u00ad", "㎏", "ﬁ", "¹"]
    ),
    max_size=30,
)


@given(pieces, st.sampled_from(["", " "]))
def test_every_folded_character_maps_to_the_character_it_came_from(chars, format_as):
    text = "".join(chars)
    folded = fold(text, format_as)
    if folded is None:
        assert text == "".join(fold_char(c) or format_as for c in text)
        return
    assert folded.text == "".join(format_as if fold_char(c) is None else fold_char(c) for c in text)
    origins = [folded.span(i, i + 1) for i in range(len(folded.text))]
    assert origins == sorted(origins)
    for i, (start, end) in enumerate(origins):
        assert end == start + 1
        source = fold_char(text[start])
        assert folded.text[i] in (format_as if source is None else source)
