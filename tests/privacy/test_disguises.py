"""Values in disguise are still found (hardening finding 5): letters glued in front of a
number, full-width digits and letters, zero-width and other format characters inside a
number, odd spaces and dashes between its groups. Spans are those of the text as written,
so redaction replaces every character of the value; lookalikes stay unflagged, and
nothing the detector found before is lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelmint.privacy.detect import detect, luhn, valid_cn_id
from modelmint.privacy.placeholders import Placeholders

PHONE = "13812345678"
CN_ID = "11010519491231002X"
CARD = "4111111111111111"
WIDE = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def wide(text: str) -> str:
    return text.translate(WIDE)


def found(text: str) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in detect(text)]


def test_the_planted_values_are_valid():
    assert valid_cn_id(CN_ID) and luhn(CARD)


# --- the reproductions of the finding ---------------------------------------------------


def test_letters_glued_in_front_of_a_phone_number():
    assert found(f"tel{PHONE}") == [("PHONE", PHONE)]
    assert found(f"phone{PHONE} mobile{PHONE}") == [("PHONE", PHONE)] * 2
    assert found(f"TEL+86{PHONE}") == [("PHONE", f"+86{PHONE}")]
    assert found("Office TEL010-62345678") == [("PHONE", "010-62345678")]


def test_full_width_phone_and_resident_id():
    assert found(f"电话{wide(PHONE)}") == [("PHONE", wide(PHONE))]
    assert found(f"身份证{wide(CN_ID)}") == [("CN_ID", wide(CN_ID))]
    mixed = "1３8１2３4５6７8"
    assert found(f"手机号：{mixed}") == [("PHONE", mixed)]


def test_zero_width_spaces_inside_a_number():
    text = "138\u200b1234\u200b5678"
    assert found(f"call {text} now") == [("PHONE", text)]
    placeholders = Placeholders()
    assert placeholders.redact(f"call {text} now") == "call <PHONE_1> now"
    assert placeholders.restore("call <PHONE_1> now") == f"call {text} now"


def test_letters_glued_in_front_of_a_card_number():
    assert found(f"cardno{CARD}") == [("CARD", CARD)]
    assert found("VISA4111 1111 1111 1111 expires") == [("CARD", "4111 1111 1111 1111")]
    assert found(f"card-{CARD}") == [("CARD", CARD)]


# --- more of their kind -------------------------------------------------------------------


def test_other_format_characters_inside_a_number():
    for char in "\u200c\u200d\u2060\ufeff\u200e\u200f\u00ad\u202e\u2066\u061c":
        phone = char.join(PHONE)  # between every two digits
        assert found(f"电话{phone}。") == [("PHONE", phone)], repr(char)
        card = f"4111{char}1111{char}1111{char}1111"
        assert found(f"card {card}") == [("CARD", card)], repr(char)
    text = f"{CN_ID[:6]}\u00ad{CN_ID[6:14]}\u2060{CN_ID[14:]}"
    assert found(f"ID {text}") == [("CN_ID", text)]


def test_format_characters_at_the_edges_stay_outside_the_span():
    assert found(f"\ufeff{PHONE}\u200b is mine") == [("PHONE", PHONE)]
    assert Placeholders().redact(f"\ufeff{PHONE}\u200b") == "\ufeff<PHONE_1>\u200b"


def test_other_spaces_and_dashes_between_the_groups():
    for sep in "\u00a0\u3000\u2009\u202f\u2002\u2010\u2011\u2013\u2212\ufe63\uff0d":
        phone = f"138{sep}1234{sep}5678"
        assert found(f"电话{phone}") == [("PHONE", phone)], repr(sep)
        card = f"4111{sep}1111{sep}1111{sep}1111"
        assert found(f"卡号{card}") == [("CARD", card)], repr(sep)
    assert found("座机010\u201362345678") == [("PHONE", "010\u201362345678")]
    intl = "+44\u00a020\u00a07946\u00a00958"
    assert found(f"call {intl}") == [("PHONE", intl)]


def test_full_width_emails_ips_passports_and_names():
    assert found("邮箱zhang.wei＠example．cn") == [("EMAIL", "zhang.wei＠example．cn")]
    address = wide("zhang.wei@example.cn")
    assert found(f"邮箱：{address}") == [("EMAIL", address)]
    assert found("mail zhang\u200b.wei@exa\u00admple.cn") == [
        ("EMAIL", "zhang\u200b.wei@exa\u00admple.cn")
    ]
    assert found(f"登录IP：{wide('192.168.1.20')}") == [("IP", wide("192.168.1.20"))]
    assert found(f"护照号码：{wide('E12345678')}") == [("PASSPORT", wide("E12345678"))]
    assert found(f"My name is {wide('Emily Carter')}.") == [("PERSON", wide("Emily Carter"))]


def test_ids_with_letters_or_chinese_glued_on():
    assert found(f"ID{CN_ID}") == [("CN_ID", CN_ID)]
    assert found(f"idcard{CN_ID} on file") == [("CN_ID", CN_ID)]
    assert found(f"身份证号码{CN_ID}号") == [("CN_ID", CN_ID)]
    assert found(f"身份证号ＩＤ{wide(CN_ID)}，已实名") == [("CN_ID", wide(CN_ID))]


def test_digits_of_other_scripts():
    arabic = PHONE.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert found(f"电话 {arabic}") == [("PHONE", arabic)]


# --- precision: lookalikes stay lookalikes ----------------------------------------------


def test_digits_inside_a_token_are_no_value():
    # a hash or a SKU with a phone-shaped run: letters on both sides
    assert found(f"commit 5cf3a{PHONE}f0cdd8544 fixed it") == []
    assert found(f"Part SKU{PHONE}X is out of stock") == []
    assert found(f"ab{CARD}cd") == []
    assert found(f"x{CN_ID}y") == []


def test_lookalikes_with_letters_glued_on_stay_unflagged():
    assert found("订单号ORD2023091527908605已发货") == []  # Luhn fails
    assert found("Order SO202406171884341072") == []  # ID-shaped, wrong checksum
    assert found("流水号TX11360894775") == []  # no mobile starts 11
    assert found("电话tel1361300159少了一位") == []  # ten digits
    assert found("ISBN9787364738497 reprinted") == []
    assert found(f"工单号ＳＲ{wide('4273470338463768')}") == []
    assert found("Write it as name＠domain, not as a link.") == []


def test_versions_and_passports_keep_letters_out():
    assert found("firmware v1.2.3.4 and build10.0.19045.3086") == []
    assert found("TYPE12345678 is a model number") == []


# --- nothing found before is lost ----------------------------------------------------------


def test_a_format_character_between_two_numbers_does_not_glue_them():
    text = f"{PHONE}\u200b{CARD}"
    assert found(text) == [("PHONE", PHONE), ("CARD", CARD)]
    assert found(f"{PHONE}\u200b\u200b{PHONE}") == [("PHONE", PHONE)] * 2


def test_footnote_and_list_marks_do_not_glue_onto_a_number():
    assert found(f"call {PHONE}¹") == [("PHONE", PHONE)]
    assert found(f"联系方式：①{PHONE} ②13912345678") == [
        ("PHONE", PHONE),
        ("PHONE", "13912345678"),
    ]


def test_chinese_punctuation_is_not_read_as_part_of_a_value():
    assert found("DNS 解析结果：::ffff:198.51.100.34，备用") == [("IP", "::ffff:198.51.100.34")]
    assert found("姓名：王小明，电话：13812345678。") == [
        ("PERSON", "王小明"),
        ("PHONE", PHONE),
    ]


# --- any disguise, any value ----------------------------------------------------------------

FORMATS = "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u00ad\u202e"


@st.composite
def disguised(draw, value: str) -> str:
    chars = []
    for index, char in enumerate(value):
        if index and draw(st.booleans()):
            chars.append(draw(st.sampled_from(FORMATS)))
        chars.append(wide(char) if draw(st.booleans()) else char)
    return "".join(chars)


values = st.sampled_from([("PHONE", PHONE), ("CN_ID", CN_ID), ("CARD", CARD)])
before = st.sampled_from(["", " ", "tel", "ID", "cardno", "ｔｅｌ", "号码：", "电话"])
after = st.sampled_from(["", " ", "，", "。谢谢", " ok", "号"])


@given(values.flatmap(lambda v: st.tuples(st.just(v[0]), disguised(v[1]))), before, after)
def test_a_disguised_value_is_found_whole(typed, prefix, suffix):
    kind, value = typed
    text = f"{prefix}{value}{suffix}"
    assert found(text) == [(kind, value)], text
    assert Placeholders().redact(text) == f"{prefix}<{kind}_1>{suffix}"
