"""Disguised values for the PII corpus (`make_corpus.py` adds them after the plain ones).

The same values as the plain snippets, written the ways people and their tools write them:
full-width digits and letters (Chinese input methods), zero-width spaces, word joiners,
soft hyphens, byte-order and direction marks inside a number (pasted from web pages and
chat apps), no-break, ideographic and thin spaces or hyphens, en dashes and minus signs
between the groups, digits of another script, and letters glued in front of a number
(`tel13812345678`, `cardno4111…`, `ID110105…`, `ｔｅｌ１３８…`). The negatives are the
lookalikes of `make_corpus.py` in the same disguises, with letters glued on (`ORD2023…`),
and hashes and SKUs with long digit runs inside them.

Labelling: a span is the value as written, with the format characters and odd spaces inside
it, without the letters glued in front and without format characters at its edges. A
number with ASCII letters glued on both sides (`a3f13812345678be`) is part of a longer
token, not a value.
"""

# ruff: noqa: E501 (the template tables below keep one snippet a line)

from __future__ import annotations

WIDE = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"})
# zero-width space, non-joiner, joiner, word joiner, BOM, LRM, RLM, soft hyphen, RLO, PDF,
# LRI, PDI, Arabic letter mark
FORMATS = (
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u00ad",
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2069",
    "\u061c",
)
# no-break, ideographic, thin, narrow no-break, en, figure space
SPACES = ("\u00a0", "\u3000", "\u2009", "\u202f", "\u2002", "\u2007")
# hyphen, non-breaking hyphen, figure dash, en dash, minus, small and full-width hyphen-minus
DASHES = ("\u2010", "\u2011", "\u2012", "\u2013", "\u2212", "\ufe63", "\uff0d")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def wide(text: str) -> str:
    return text.translate(WIDE)


def groups(digits: str) -> list[str]:
    """Groups of four, a short tail joined to the last group (no one-digit group)."""
    cut = [digits[i : i + 4] for i in range(0, len(digits), 4)]
    if len(cut) > 1 and len(cut[-1]) < 3:
        cut[-2:] = [cut[-2] + cut[-1]]
    return cut


class Disguises:
    """Value makers for the disguised snippets, mixed into `corpus_values.Maker`."""

    # ---- full-width ----
    def wide_mobile(self) -> str:
        return wide(self.mobile())

    def mixed_mobile(self) -> str:
        """Every other character full-width, as a half-fixed input method leaves it."""
        value = self.mobile_plain()
        return "".join(wide(c) if i % 2 else c for i, c in enumerate(value))

    def wide_landline(self) -> str:
        return wide(self.landline())

    def wide_cn_id(self) -> str:
        return wide(self.cn_id())

    def wide_card(self) -> str:
        return wide(self.card())

    def wide_email(self) -> str:
        return wide(self.email())

    def wide_at_email(self) -> str:
        """Only the `@` (and every other time the dots) full-width."""
        value = self.email().replace("@", "＠")
        return value.replace(".", "．") if self.turn("wide_at", (0, 1)) else value

    def wide_ipv4(self) -> str:
        return wide(self.ipv4())

    def wide_passport(self) -> str:
        return wide(self.passport_cn())

    def wide_en_name(self) -> str:
        return wide(self.en_name())

    # ---- format characters inside ----
    def _format(self) -> str:
        return self.turn("format", FORMATS)

    def zw_mobile(self) -> str:
        m = self.mobile_plain()
        if self.turn("zw_mobile", (0, 1, 0)):
            return self._format().join(m)  # between every two digits
        sep = self._format()
        return f"{m[:3]}{sep}{m[3:7]}{sep}{m[7:]}"

    def zw_cn_id(self) -> str:
        v = self.cn_id()
        return f"{v[:6]}{self._format()}{v[6:14]}{self._format()}{v[14:]}"

    def zw_card(self) -> str:
        return self._format().join(groups(self.card_plain()))

    def zw_email(self) -> str:
        local, domain = self.email().split("@")
        cut = len(local) // 2
        return f"{local[:cut]}{self._format()}{local[cut:]}@{domain}"

    # ---- other spaces and dashes between the groups ----
    def space_mobile(self) -> str:
        m = self.mobile_plain()
        sep = self.turn("space", SPACES)
        return f"{m[:3]}{sep}{m[3:7]}{sep}{m[7:]}"

    def space_card(self) -> str:
        while " " not in (card := self.card()):
            pass
        return card.replace(" ", self.turn("space", SPACES))

    def space_intl(self) -> str:
        while " " not in (number := self.intl()):
            pass
        return number.replace(" ", self.turn("space", SPACES))

    def dash_mobile(self) -> str:
        m = self.mobile_plain()
        sep = self.turn("dash", DASHES)
        return f"{m[:3]}{sep}{m[3:7]}{sep}{m[7:]}"

    def dash_landline(self) -> str:
        while "-" not in (number := self.landline()):
            pass
        return number.replace("-", self.turn("dash", DASHES))

    def dash_card(self) -> str:
        return self.turn("dash", DASHES).join(groups(self.card_plain()))

    # ---- digits of other scripts ----
    def script_mobile(self) -> str:
        table = self.turn("script", (ARABIC_INDIC, DEVANAGARI))
        return self.mobile_plain().translate(table)

    # ---- plain values, for glued prefixes ----
    def card_plain(self) -> str:
        return self.card().replace(" ", "").replace("-", "")

    # ---- lookalikes ----
    def wide_luhn_fail16(self) -> str:
        return wide(self.luhn_fail16())

    def wide_id_bad(self) -> str:
        return wide(self.id_bad_checksum())

    def wide_order16(self) -> str:
        return wide(self.order16())

    def zw_order16(self) -> str:
        v = self.order16()
        return f"{v[:8]}{self._format()}{v[8:]}"

    def wide_price(self) -> str:
        return wide(self.price())

    def wide_datetime(self) -> str:
        return wide(self.datetime())

    def hex_digits(self) -> str:
        """A hash with a phone-shaped or card-length digit run inside it."""
        run = self.turn("hex_run", (self.mobile_digits(), self.luhn_fail16()))
        return self._hex(5) + "a" + run + "f" + self._hex(12)

    def sku_mobile(self) -> str:
        return self.pick(("SKU", "PN", "ART")) + self.mobile_digits() + self.pick("XYZ")


# (lang, repetitions, template), as in make_corpus.POSITIVE and NEGATIVE
DISGUISED = [
    # Chinese
    ("zh", 4, "您好，电话{PHONE:wide_mobile}，请回电。"),
    ("zh", 2, "手机号：{PHONE:mixed_mobile}，谢谢"),
    ("zh", 2, "座机{PHONE:wide_landline}，分机找前台"),
    ("zh", 3, "身份证号码{CN_ID:wide_cn_id}号，请核对"),
    ("zh", 4, "身份证{CN_ID:zw_cn_id}，请帮我查一下。"),
    ("zh", 3, "卡号{CARD:wide_card}，请退款。"),
    ("zh", 5, "联系电话：{PHONE:zw_mobile}（工作日）"),
    ("zh", 4, "银行卡{CARD:zw_card}已绑定"),
    ("zh", 3, "邮箱{EMAIL:wide_at_email}，谢谢"),
    ("zh", 2, "邮箱：{EMAIL:wide_email}"),
    ("zh", 3, "手机{PHONE:space_mobile}，座机{PHONE:dash_landline}"),
    ("zh", 2, "护照号码：{PASSPORT:wide_passport}，请核对。"),
    ("zh", 2, "登录IP：{IP:wide_ipv4}，如非本人操作请修改密码"),
    ("zh", 3, "退款卡号{CARD:space_card}，户名{PERSON:zh_name}"),
    ("zh", 4, "电话{PHONE:dash_mobile}，{NEG:time}以后打"),
    ("zh", 2, "我叫{PERSON:zh_name}，电话{PHONE:zw_mobile}"),
    ("zh", 2, "身份证号ＩＤ{CN_ID:cn_id}，已实名"),
    ("zh", 2, "请联系ｔｅｌ{PHONE:wide_mobile}"),
    ("zh", 2, "邮件{EMAIL:zw_email}已发出"),
    # English
    ("en", 3, "Call me: tel{PHONE:mobile_plain} after 6pm."),
    ("en", 3, "my phone{PHONE:mobile}, thanks"),
    ("en", 3, "Refund to cardno{CARD:card} please."),
    ("en", 2, "Paid with VISA{CARD:card_plain} yesterday."),
    ("en", 2, "KYC: ID{CN_ID:cn_id} verified."),
    ("en", 2, "idcard{CN_ID:cn_id} on file"),
    ("en", 2, "mobile{PHONE:zw_mobile} (text only)"),
    ("en", 2, "Office TEL{PHONE:landline}, ask for billing."),
    ("en", 2, "My name is {PERSON:wide_en_name}, email {EMAIL:zw_email}"),
    ("en", 3, "Reach me at {EMAIL:wide_at_email} or {PHONE:space_intl}."),
    ("en", 3, "card number{CARD:dash_card}, exp {NEG:exp}"),
    ("en", 2, "Passport No.{PASSPORT:passport_foreign} renewed"),
    ("en", 1, "\ufeff{PHONE:mobile_plain} is my number"),
    ("en", 2, "Card: {CARD:space_card} (the new one)"),
    ("en", 2, "Call {PHONE:dash_landline} or {PHONE:space_mobile}."),
    # mixed
    ("mixed", 2, "客户ｔｅｌ{PHONE:wide_mobile}，email：{EMAIL:wide_email}"),
    ("mixed", 2, "cardno{CARD:card}，持卡人{PERSON:zh_name}"),
    ("mixed", 2, "ID{CN_ID:wide_cn_id}，phone{PHONE:mobile_plain}"),
    ("mixed", 2, "电话 {PHONE:script_mobile} (other digits)"),
    ("mixed", 2, "IP地址{IP:wide_ipv4}，gateway {IP:ipv4}"),
    ("mixed", 2, "tel：{PHONE:zw_mobile}，卡号{CARD:zw_card}"),
    ("mixed", 2, "身份证ID：{CN_ID:zw_cn_id}，mobile {PHONE:dash_mobile}"),
]

DISGUISED_NEGATIVE = [
    ("zh", 3, "订单号ORD{NEG:order16}已发货"),
    ("zh", 2, "会员号VIP{NEG:luhn_fail16}，积分{NEG:int}"),
    ("zh", 2, "工单号ＳＲ{NEG:wide_luhn_fail16}已受理"),
    ("zh", 2, "档案编号ＤＡ{NEG:wide_id_bad}已归档"),
    ("zh", 2, "流水号TX{NEG:mobile_bad}，金额￥{NEG:wide_price}"),
    ("zh", 2, "订单{NEG:zw_order16}，下单时间{NEG:wide_datetime}"),
    ("zh", 2, "订单号{NEG:wide_order16}，请勿外传"),
    ("zh", 2, "电话tel{NEG:mobile_short}少了一位"),
    ("en", 3, "commit {NEG:hex_digits} fixed it"),
    ("en", 2, "Order SO{NEG:order18}, tracking {NEG:tracking}"),
    ("en", 2, "Part {NEG:sku_mobile} is out of stock."),
    ("en", 2, "ISBN{NEG:isbn_plain} reprinted"),
    ("en", 1, "Write it as {NEG:no_value=name＠domain}, not as a link."),
    ("mixed", 2, "缓存 key {NEG:hex_digits}，SKU {NEG:sku_mobile}"),
    ("mixed", 2, "ref INV{NEG:luhn_fail16} 未匹配"),
]
