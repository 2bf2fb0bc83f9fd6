"""Reversible placeholders: one placeholder per value within a request, `restore` undoing
`redact`, and the streaming `Restorer` agreeing with `restore` however a text is split."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelmint.privacy.detect import luhn, valid_cn_id
from modelmint.privacy.placeholders import Placeholders

PHONE = "13812345678"
OTHER_PHONE = "13987654321"
CN_ID = "11010519491231002X"
CARD = "4111 1111 1111 1111"
EMAIL = "zhang.wei@example.cn"
IP = "192.168.10.20"


def test_the_planted_values_are_valid():
    assert valid_cn_id(CN_ID)
    assert luhn(CARD.replace(" ", ""))


def test_the_same_value_gets_the_same_placeholder():
    placeholders = Placeholders()
    text = f"call {PHONE}, I repeat: {PHONE}. 电话{PHONE}"
    assert placeholders.redact(text) == "call <PHONE_1>, I repeat: <PHONE_1>. 电话<PHONE_1>"
    # and across the texts of one request (a later message, the stored copy)
    assert placeholders.redact(f"again {PHONE}") == "again <PHONE_1>"
    assert placeholders.found == ["PHONE"]


def test_different_values_get_different_numbers():
    placeholders = Placeholders()
    redacted = placeholders.redact(f"{PHONE} or {OTHER_PHONE}, then {PHONE}; {EMAIL}")
    assert redacted == "<PHONE_1> or <PHONE_2>, then <PHONE_1>; <EMAIL_1>"
    assert placeholders.restore("<PHONE_2> and <PHONE_1>") == f"{OTHER_PHONE} and {PHONE}"


def test_restore_inverts_redact_for_several_entity_types():
    texts = [
        f"My phone is {PHONE}, mail {EMAIL}, ID {CN_ID}, card {CARD}, from {IP}.",
        f"客户电话{PHONE}，身份证号码{CN_ID}，银行卡{CARD}，邮箱{EMAIL}。",
        f"{PHONE}\n{OTHER_PHONE}\t{EMAIL}",
    ]
    for text in texts:
        placeholders = Placeholders()
        redacted = placeholders.redact(text)
        for value in (PHONE, OTHER_PHONE, CN_ID, CARD, EMAIL, IP):
            assert value not in redacted, (value, redacted)
        assert "<PHONE_1>" in redacted and "<EMAIL_1>" in redacted
        assert placeholders.restore(redacted) == text


def test_restore_leaves_unknown_and_malformed_tags_alone():
    placeholders = Placeholders()
    placeholders.redact(f"call {PHONE}")
    text = "<PHONE_2> <phone_1> <PHONE_1 <X> < PHONE_1> <PHONE_01>"
    assert placeholders.restore(text) == text
    assert Placeholders().restore("<PHONE_1>") == "<PHONE_1>"


def test_the_restorer_holds_back_only_what_could_become_a_placeholder():
    placeholders = Placeholders()
    placeholders.redact(f"call {PHONE} or mail {EMAIL}")
    restorer = placeholders.restorer()
    assert restorer.feed("Sure: a < b and <X> ") == "Sure: a < b and <X> "
    assert restorer.feed("call <PHO") == "call "
    assert restorer.feed("NE_") == ""
    assert restorer.feed("1> or <EM") == f"{PHONE} or "
    assert restorer.feed("AIL_1>.") == f"{EMAIL}."
    assert restorer.feed(" <PHONE_") == " "
    assert restorer.flush() == "<PHONE_"
    assert restorer.flush() == ""


def _placeholders() -> Placeholders:
    placeholders = Placeholders()
    placeholders.redact(f"{PHONE} {OTHER_PHONE} {EMAIL} {CN_ID} {CARD} {IP}")
    return placeholders


ANY_SPLIT = [
    "<PHONE_1>",
    "<PHONE_2>",
    "<EMAIL_1>",
    "<CARD_1>",
    "<IP_1>",
    "<PHONE_3>",  # a placeholder this request never handed out
    "<PASSPORT_1234>",
    "<",
    "<PHO",
    "<PHONE_",
    "<PHONE_1",
    "<X>",
    ">",
    "_",
    "1",
    " ",
    "\n",
    "电话",
    "call me at ",
    "a<b",
    "<C",
]


def texts(pieces: list[str]) -> st.SearchStrategy[str]:
    chosen = st.one_of(st.sampled_from(pieces), st.text(max_size=6))
    return st.lists(chosen, max_size=14).map("".join)


CUTS = st.lists(st.integers(min_value=0, max_value=200), max_size=12)


def streamed(placeholders: Placeholders, text: str, cuts: list[int]) -> str:
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    restorer = placeholders.restorer()
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return "".join(restorer.feed(piece) for piece in pieces) + restorer.flush()


@settings(max_examples=400, deadline=None)
@given(text=texts(ANY_SPLIT), cuts=CUTS)
def test_streamed_restore_equals_whole_restore_for_any_split(text, cuts):
    placeholders = _placeholders()
    assert streamed(placeholders, text, cuts) == placeholders.restore(text)


@settings(max_examples=200, deadline=None)
@given(text=texts(ANY_SPLIT))
def test_streamed_restore_one_character_at_a_time(text):
    placeholders = _placeholders()
    assert streamed(placeholders, text, list(range(len(text)))) == placeholders.restore(text)


@example(text="<CN_ID_1>", cuts=[4])
@example(text="ID <CN_ID_1>.", cuts=[9])
@settings(max_examples=200, deadline=None)
@given(text=texts([*ANY_SPLIT, "<CN_ID_1>", "<CN_", "<CN_ID_"]), cuts=CUTS)
def test_streamed_restore_of_a_split_cn_id_placeholder(text, cuts):
    placeholders = _placeholders()
    assert streamed(placeholders, text, cuts) == placeholders.restore(text)
