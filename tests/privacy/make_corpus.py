"""Generate `corpus.jsonl`: labelled PII snippets in Chinese, English and both mixed.

    python tests/privacy/make_corpus.py            # rewrites corpus.jsonl beside this file
    python tests/privacy/make_corpus.py --check    # exits 1 if corpus.jsonl is out of date

Every value is fake and made here from a fixed seed, so the file is the same on every run
(`test_corpus.py` checks that it matches this generator). A snippet is a template whose
slots are filled by value makers:

    {EMAIL:email}     an entity of type EMAIL, value from `Maker.email`
    {NEG:order16}     a lookalike that must NOT be detected, recorded under "lookalikes"
    {NEG:kind=text}   a literal lookalike (a cue with no value, a word that is no name)
    {TXT:city}        plain filler text, neither

Each line: {"id", "lang": "zh"|"en"|"mixed", "text", "entities": [{"type", "start",
"end"}], "lookalikes": [{"kind", "start", "end"}]}; offsets are Python str offsets, end
exclusive. Labelling conventions:

- PHONE spans include a country prefix (+86, 0086, 86-) and the separators inside the
  number, and exclude a port, an extension and surrounding brackets of the whole number
  (but "(0755)12345678" keeps the area code's brackets: they are part of the number).
- PERSON spans are the name only, without titles or honorifics: "Dear Mr. [Johnson]",
  "[张三]先生", "[陈]女士".
- IP spans exclude a port ("192.0.2.7:8080" -> "192.0.2.7") and the brackets of
  "[2001:db8::1]:443"; an IPv6 with an embedded IPv4 is one entity.
- PASSPORT spans are the number only, never the cue word.
- CARD spans are the whole number with its spaces or dashes.
"""

# ruff: noqa: E501 (the template tables below keep one snippet a line)

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240315
OUT = Path(__file__).with_name("corpus.jsonl")
TYPES = ("EMAIL", "PHONE", "CN_ID", "CARD", "IP", "PASSPORT", "PERSON")

# --- checksums -------------------------------------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(body: str) -> str:
    """`body` plus the check digit that makes it Luhn-valid."""
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def isbn13_complete(body12: str) -> str:
    total = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


# --- value pools -----------------------------------------------------------------------

# fmt: off
# county-level codes that exist (Beijing, Shanghai, Guangzhou, Shenzhen, Hangzhou, ...)
REGIONS = [
    "110101", "110105", "110108", "110114", "120101", "130102", "210102", "310101", "310104",
    "310115", "320102", "320506", "330102", "330106", "340104", "350203", "370102", "370202",
    "410105", "420102", "430102", "440103", "440106", "440305", "440307", "450103", "500103",
    "510104", "510107", "530102", "610113", "620102"
]
EN_FIRST = [
    "Emily", "Sarah", "David", "Michael", "Jessica", "Daniel", "Olivia", "James", "Sophia",
    "Robert", "Laura", "Thomas", "Hannah", "Kevin", "Rachel", "Brian", "Megan", "Andrew",
    "Natalie", "Gregory", "Chloe", "Patrick", "Victoria", "Oliver"
]
EN_LAST = [
    "Carter", "Johnson", "O'Neil", "Kim", "Thompson", "Nguyen", "Patel", "Robinson",
    "Fitzgerald", "McDonald", "Schmidt", "Harrison", "Lopez", "Whitaker", "Brennan", "Sullivan",
    "Chen", "Anderson", "Okafor", "Lindqvist", "Moreau", "Hughes"
]
PINYIN = [
    "Zhang Wei", "Wang Fang", "Li Na", "Liu Yang", "Chen Jie", "Zhao Lei", "Huang Min",
    "Zhou Tao", "Wu Xiaoming", "Xu Jing", "Sun Hao", "Lin Yuting"
]
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "170", "173", "176", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "191", "198", "199"
]
# fmt: on
ZH_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐韩冯") + ["欧阳", "司马"]
ZH_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰晨浩宇欣怡子涵梓萱俊") + [
    "小明",
    "建国",
    "志强",
    "晓燕",
    "海涛",
    "雨桐",
]
HEX = "0123456789abcdef"
LOCAL_WORDS = ("orders", "shop", "billing", "hr", "travel", "news", "work")
DOMAINS = (
    "example.com",
    "example.cn",
    "mail.example.com",
    "mail.example.com.cn",
    "support.example.org",
    "dept.uni-example.edu.cn",
    "example.co.uk",
    "corp.example.net",
    "example.io",
    "huaxin-tech.cn",
    "lanshan.example.cn",
)


@dataclass
class Maker:
    """Fills template slots. Each maker cycles through its formats so that all appear."""

    rng: random.Random
    turns: dict[str, int] = field(default_factory=dict)

    def turn(self, name: str, options: tuple | list):
        n = self.turns.get(name, 0)
        self.turns[name] = n + 1
        return options[n % len(options)]

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def pick(self, options):
        return self.rng.choice(options)

    # ---- PERSON ----
    def en_first(self) -> str:
        return self.pick(EN_FIRST)

    def en_last(self) -> str:
        return self.pick(EN_LAST)

    def en_name(self) -> str:
        if self.turn("en_name", (0, 0, 0, 1)):
            return self.pick(PINYIN)
        return f"{self.en_first()} {self.en_last()}"

    def zh_surname(self) -> str:
        return self.pick(ZH_SURNAMES[:-2] * 8 + ZH_SURNAMES[-2:])

    def zh_name(self) -> str:
        given = self.pick(ZH_GIVEN)
        if len(given) == 1 and self.rng.random() < 0.5:
            given += self.pick(ZH_GIVEN[:-6])
        return self.zh_surname() + given

    # ---- EMAIL ----
    def email(self) -> str:
        first = self.pick(EN_FIRST).lower()
        last = self.pick(EN_LAST).lower().replace("'", "")
        py = self.pick(PINYIN).lower().split()
        local = self.turn(
            "email_local",
            (
                f"{first}.{last}",
                f"{py[0]}.{py[1]}",
                f"{first}{last}{self.digits(2)}",
                f"{py[1]}{py[0][0]}{self.digits(4)}",
                f"{first[0]}.{last}+{self.pick(LOCAL_WORDS)}",
                f"{first}_{last}",
                f"{py[0]}_{py[1]}+{self.pick(LOCAL_WORDS)}",
                f"{last}-{first[0]}",
            ),
        )
        return f"{local}@{self.turn('email_domain', DOMAINS)}"

    # ---- PHONE ----
    def mobile_digits(self) -> str:
        prefix = self.pick(MOBILE_PREFIXES)
        return prefix + self.digits(8)

    def mobile_plain(self) -> str:
        return self.mobile_digits()

    def mobile(self) -> str:
        m = self.mobile_digits()
        a, b, c = m[:3], m[3:7], m[7:]
        return self.turn(
            "mobile",
            (
                m,
                f"{a} {b} {c}",
                f"{a}-{b}-{c}",
                f"+86 {m}",
                f"+86 {a} {b} {c}",
                f"+86-{a}-{b}-{c}",
                f"+86{m}",
                f"0086 {m}",
                f"0086{m}",
                f"86-{m}",
                m,
                f"+86 {a}-{b}-{c}",
            ),
        )

    def landline(self) -> str:
        local = self.pick("2345678") + self.digits(7)
        l4a, l4b = local[:4], local[4:]
        return self.turn(
            "landline",
            (
                f"010-{local}",
                f"021-{l4a}-{l4b}",
                f"(0755){local}",
                f"0571-{local}",
                f"020-{local}",
                f"(010) {l4a} {l4b}",
                f"+86 10 {l4a} {l4b}",
                f"+86-21-{l4a}-{l4b}",
                f"0512-{local}",
                f"028-{local}",
                f"(021){local}",
                f"0755-{l4a}-{l4b}",
            ),
        )

    def intl(self) -> str:
        d = self.digits
        return self.turn(
            "intl",
            (
                f"+44 20 7946 0{d(3)}",  # Ofcom's range for drama
                f"+1 415 555 01{d(2)}",  # 555-01xx is fictional
                f"+81-3-{d(4)}-{d(4)}",
                f"+86{self.mobile_digits()}",
                f"+49 30 {self.pick('2345678')}{d(7)}",
                f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
                f"+65 6{d(3)} {d(4)}",
                f"+852 2{d(3)} {d(4)}",
                f"+1-212-555-01{d(2)}",
                f"+61 2 9{d(3)} {d(4)}",
                f"+44 7700 900{d(3)}",
                f"+81 90 {d(4)} {d(4)}",
                f"+82 2-{d(4)}-{d(4)}",
            ),
        )

    def phone_any(self) -> str:
        kind = self.turn("phone_any", ("mobile", "landline", "intl", "mobile"))
        return getattr(self, kind)()

    # ---- CN_ID ----
    def cn_id(self) -> str:
        want_x = self.turn("cn_id_x", (False, False, False, False, True))
        while True:
            region = self.pick(REGIONS)
            born = dt.date(1955, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 52 * 365))
            first17 = region + born.strftime("%Y%m%d") + self.digits(3)
            check = id_check_char(first17)
            if (check == "X") == want_x:
                return first17 + check

    # ---- CARD ----
    def card(self) -> str:
        brand, length, style = self.turn(
            "card",
            (
                ("visa", 16, "plain"),
                ("visa", 16, "space"),
                ("mc", 16, "dash"),
                ("unionpay", 16, "space"),
                ("unionpay", 19, "plain"),
                ("amex", 15, "plain"),
                ("mc", 16, "plain"),
                ("unionpay", 19, "space"),
                ("amex", 15, "space"),
                ("visa", 16, "dash"),
                ("unionpay", 16, "plain"),
                ("mc", 16, "space"),
                ("visa", 13, "plain"),
            ),
        )
        prefix = {
            "visa": "4",
            "mc": "5" + self.pick("12345"),
            "amex": "3" + self.pick("47"),
            "unionpay": self.pick(("622202", "621700", "622848", "621226", "625807")),
        }[brand]
        number = luhn_complete(prefix + self.digits(length - len(prefix) - 1))
        if style == "plain":
            return number
        sep = " " if style == "space" else "-"
        if brand == "amex":
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i : i + 4] for i in range(0, len(number), 4)]
        return sep.join(groups)

    # ---- IP ----
    def ipv4(self) -> str:
        r = self.rng.randint
        return self.turn(
            "ipv4",
            (
                f"192.168.{r(0, 30)}.{r(2, 254)}",
                f"203.0.113.{r(1, 254)}",
                f"10.{r(0, 255)}.{r(0, 255)}.{r(1, 254)}",
                f"198.51.100.{r(1, 254)}",
                f"114.{r(80, 110)}.{r(0, 255)}.{r(1, 254)}",
                f"172.{r(16, 31)}.{r(0, 255)}.{r(1, 254)}",
                f"192.0.2.{r(1, 254)}",
                f"58.{r(16, 63)}.{r(0, 255)}.{r(1, 254)}",
                f"223.{r(64, 127)}.{r(0, 255)}.{r(1, 254)}",
                f"101.{r(0, 255)}.{r(0, 99)}.{r(1, 254)}",
            ),
        )

    def hex4(self, lead_nonzero: bool = True) -> str:
        s = "".join(self.pick(HEX) for _ in range(self.pick((2, 3, 4, 4, 4))))
        s = s.lstrip("0") or "1"
        return s if lead_nonzero else s.zfill(4)

    def ipv6(self) -> str:
        h = self.hex4
        return self.turn(
            "ipv6",
            (
                "2001:0db8:" + ":".join(h(False) for _ in range(6)),
                f"2001:db8::{h()}",
                f"fe80::{h()}:{h()}:{h()}:{h()}",
                f"::ffff:{self.ipv4()}",
                f"2408:8207:{h()}:{h()}::{h()}",
                f"240e:{h()}:{h()}::{h()}:{h()}",
                f"64:ff9b::{self.ipv4()}",
                f"2001:DB8:{h().upper()}::{h().upper()}",
                f"2001:db8:85a3::8a2e:{h()}:{h()}",
            ),
        )

    def ip_any(self) -> str:
        return self.ipv6() if self.turn("ip_any", (0, 1, 0)) else self.ipv4()

    # ---- PASSPORT ----
    def passport_cn(self) -> str:
        return self.turn(
            "passport_cn",
            (
                f"E{self.digits(8)}",
                f"E{self.pick('ABCDEFGHJKLMNPQRSTUVWXYZ')}{self.digits(7)}",
                f"G{self.digits(8)}",
                f"E{self.digits(8)}",
            ),
        )

    def passport_foreign(self) -> str:
        """Only ever after a cue word ("passport number", "Passport No.", "护照号码")."""
        return self.turn(
            "passport_foreign",
            (
                self.pick("56789") + self.digits(8),  # US, 9 digits
                self.pick("KLMNP") + self.digits(7),
                "5" + self.digits(8),  # UK, 9 digits
                self.pick(("TK", "TR", "MZ")) + self.digits(7),  # Japan
                f"C{self.pick('FGHJK')}{self.digits(1)}X{self.digits(2)}T{self.digits(2)}",  # DE
                self.pick("JKLMZ") + self.digits(7),  # India
            ),
        )

    def passport_us(self) -> str:
        return self.pick("56789") + self.digits(8)

    # ---- lookalikes (never entities) ----
    def _luhn_fail(self, make) -> str:
        while True:
            value = make()
            if not luhn_ok(re.sub(r"\D", "", value)):
                return value

    def date_obj(self) -> dt.date:
        return dt.date(2023, 1, 1) + dt.timedelta(days=self.rng.randrange(0, 700))

    def date_iso(self) -> str:
        return self.date_obj().isoformat()

    def date_zh(self) -> str:
        d = self.date_obj()
        return f"{d.year}年{d.month}月{d.day}日"

    def date_compact(self) -> str:
        return self.date_obj().strftime("%Y%m%d")

    def date_en(self) -> str:
        return self.date_obj().strftime("%B %d, %Y").replace(" 0", " ")

    def datetime(self) -> str:
        r = self.rng.randint
        return f"{self.date_iso()} {r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}"

    def time(self) -> str:
        return f"{self.rng.randint(8, 22):02d}:{self.pick(('00', '15', '30', '45'))}"

    def order16(self) -> str:
        return self._luhn_fail(lambda: self.date_compact() + self.digits(8))

    def order18(self) -> str:
        while True:
            v = self._luhn_fail(lambda: self.date_compact() + self.digits(10))
            if id_check_char(v[:17]) != v[17]:
                return v

    def id_bad_checksum(self) -> str:
        """A resident ID whose check character is wrong (and not Luhn-valid either)."""
        good = self.cn_id()
        for wrong in self.rng.sample("0123456789", 10):
            v = good[:17] + wrong
            if wrong != good[17] and not luhn_ok(v):
                return v
        return self.id_bad_checksum()

    def id_bad_date(self) -> str:
        """Checksum-valid but born on a day that does not exist (month 13 or Feb 30)."""
        while True:
            bad_day = self.pick(("1313", "0230", "0431", "0032"))
            first17 = (
                self.pick(REGIONS) + f"19{self.rng.randint(60, 99)}" + bad_day + self.digits(3)
            )
            v = first17 + id_check_char(first17)
            if v[-1] != "X" and not luhn_ok(v):
                return v

    def luhn_fail16(self) -> str:
        return self._luhn_fail(lambda: "4" + self.digits(15))

    def luhn_fail_grouped(self) -> str:
        v = self._luhn_fail(lambda: self.pick("456") + self.digits(15))
        return " ".join(v[i : i + 4] for i in range(0, 16, 4))

    def ticket14(self) -> str:
        return self._luhn_fail(lambda: self.mobile_digits() + self.digits(3))

    def mobile_bad(self) -> str:
        return self.pick(("10", "11", "12")) + self.digits(9)

    def mobile_short(self) -> str:
        return self.mobile_digits()[:10]

    def ts(self) -> str:
        return "17" + self.digits(8)

    def ts_ms(self) -> str:
        return self._luhn_fail(lambda: "17" + self.digits(11))

    def tracking(self) -> str:
        return self.turn(
            "tracking",
            (
                self._luhn_fail(lambda: "SF" + self.digits(13)),
                self._luhn_fail(lambda: "YT" + self.digits(13)),
                "JDVA" + self.digits(11),
                f"E{self.pick('ABEM')}{self.digits(9)}CN",  # UPU S10 (EMS)
                "75" + self.digits(10),  # ZTO 12 digits
            ),
        )

    def ups(self) -> str:
        letters = "".join(self.pick(string.ascii_uppercase) for _ in range(6))
        return "1Z" + letters + self._luhn_fail(lambda: "0" + self.digits(9))

    def zip(self) -> str:
        return self.pick(("100084", "200030", "518057", "310027", "610041", "430072"))

    def invoice(self) -> str:
        return "24" + self.pick(("11", "31", "44")) + "2000000" + self.digits(9)

    def invoice_en(self) -> str:
        return f"{self.date_obj().year}-{self.digits(5)}"

    def emp_no(self) -> str:
        return "A" + self.digits(5)

    def price(self) -> str:
        cents = self.pick(("00", "50", "99"))
        return f"{self.rng.randint(1, 19)},{self.rng.randint(0, 999):03d}.{cents}"

    def price_small(self) -> str:
        return f"{self.rng.randint(9, 999)}.{self.pick(('00', '80', '99'))}"

    def amount(self) -> str:
        return str(self.rng.randint(1000, 99999))

    def int(self) -> str:
        return str(self.rng.randint(10, 9999))

    def port(self) -> str:
        return str(self.rng.randint(1025, 65000))

    def ms(self) -> str:
        return f"{self.rng.randint(3, 2500)}ms"

    def card_tail(self) -> str:
        return self.digits(4)

    def exp(self) -> str:
        return f"{self.rng.randint(1, 12):02d}/{self.rng.randint(26, 31)}"

    def build(self) -> str:
        return self.pick(("10.0.19045.", "10.0.22631.", "10.0.26100.")) + str(
            self.rng.randint(1000, 4999)
        )

    def chrome_ver(self) -> str:
        r = self.rng.randint
        return f"{r(118, 131)}.0.{r(6000, 6800)}.{r(50, 200)}"

    def pyver(self) -> str:
        return self.pick(("3.11.7", "3.12.2", "3.10.13", "3.11.9"))

    def semver(self) -> str:
        r = self.rng.randint
        return f"v{r(0, 9)}.{r(0, 30)}.{r(0, 20)}"

    def _hex(self, n: int) -> str:
        while True:
            v = "".join(self.pick(HEX) for _ in range(n))
            if not re.search(r"\d{6}", v):  # no long digit runs: nothing to mistake
                return v

    def sha1(self) -> str:
        return self._hex(40)

    def sha256(self) -> str:
        return self._hex(64)

    def short_hash(self) -> str:
        return self._hex(7)

    def hex8(self) -> str:
        return self._hex(8).upper()

    def uuid(self) -> str:
        v = self._hex(32)
        return f"{v[:8]}-{v[8:12]}-4{v[13:16]}-a{v[17:20]}-{v[20:]}"

    def mac(self) -> str:
        return ":".join(self._hex(2).upper() for _ in range(6))

    def oid(self) -> str:
        return f"1.3.6.1.4.1.{self.rng.randint(2000, 9999)}.1.{self.rng.randint(1, 9)}"

    def ipv4_bad(self) -> str:
        r = self.rng.randint
        return self.turn(
            "ipv4_bad",
            (
                f"256.{r(0, 255)}.{r(0, 255)}.{r(1, 9)}",
                f"192.168.1.{r(256, 399)}",
                "999.999.999.999",
            ),
        )

    def isbn(self) -> str:
        while True:
            v = isbn13_complete("9787" + self.digits(8))
            if not luhn_ok(v):
                return f"{v[:3]}-{v[3]}-{v[4:7]}-{v[7:12]}-{v[12]}"

    def isbn_plain(self) -> str:
        return self.isbn().replace("-", "")

    def handle(self) -> str:
        return "@" + self.pick(PINYIN).lower().replace(" ", "_") + self.digits(2)

    def domain(self) -> str:
        return self.pick(DOMAINS)

    def city(self) -> str:
        return self.pick(("北京", "上海", "深圳", "杭州", "成都", "广州", "南京", "武汉"))

    def city_en(self) -> str:
        return self.pick(("London", "Tokyo", "Singapore", "Berlin", "Sydney", "Toronto"))


# --- templates -------------------------------------------------------------------------
# (lang, repetitions, template). Literal braces are fine: only {TYPE:...} slots are parsed.

# fmt: off
POSITIVE = [
    # Chinese: support messages, forms, logs, chat requests
    ("zh", 4, "您好，我叫{PERSON:zh_name}，手机号{PHONE:mobile_plain}，麻烦尽快回电。"),
    ("zh", 4, "请发邮件到{EMAIL:email}谢谢"),
    ("zh", 4, "客户信息：姓名：{PERSON:zh_name}；身份证号：{CN_ID:cn_id}；联系电话：{PHONE:mobile}。"),
    ("zh", 4, "身份证号{CN_ID:cn_id}，请帮我查询一下社保缴费记录。"),
    ("zh", 4, "我的银行卡号是{CARD:card}，为什么扣款两次？订单号{NEG:order16}。"),
    ("zh", 3, "联系人：{PERSON:zh_name}  电话：{PHONE:landline}  地址：{TXT:city}市朝阳路8号  邮编{NEG:zip}"),
    ("zh", 3, "{PERSON:zh_name}先生您好，您的快递单号{NEG:tracking}已于{NEG:date_zh}签收。"),
    ("zh", 3, "{PERSON:zh_surname}女士，您预订的航班已出票，护照号码：{PASSPORT:passport_cn}，请核对。"),
    ("zh", 3, "登录提醒：您的账号于{NEG:datetime}在IP {IP:ipv4}登录，如非本人操作请及时修改密码。"),
    ("zh", 3, "服务器日志 {NEG:datetime} 来源地址{IP:ip_any}请求超时，耗时{NEG:ms}"),
    ("zh", 3, "办理签证需要提供护照号{PASSPORT:passport_cn}和身份证号{CN_ID:cn_id}，材料请寄到{TXT:city}。"),
    ("zh", 3, "收件人：{PERSON:zh_name}，电话{PHONE:mobile}，邮箱{EMAIL:email}"),
    ("zh", 3, "您尾号{NEG:card_tail}的信用卡{CARD:card}本期账单¥{NEG:price}，最后还款日{NEG:date_zh}。"),
    ("zh", 3, "我是{PERSON:zh_name}，工号{NEG:emp_no}，邮箱是{EMAIL:email}，办公电话{PHONE:landline}。"),
    ("zh", 3, "请把下面这段话改得礼貌一点：{PERSON:zh_surname}经理，你们的客服电话{PHONE:landline}根本打不通！"),
    ("zh", 3, "持卡人：{PERSON:zh_name}\n卡号：{CARD:card}\n预留手机：{PHONE:mobile}"),
    ("zh", 3, "紧急联系人{PERSON:zh_name}，手机{PHONE:mobile_plain}，身份证{CN_ID:cn_id}"),
    ("zh", 2, "酒店入住登记：旅客{PERSON:zh_name}，证件类型：护照，证件号码：{PASSPORT:passport_cn}，入住日期{NEG:date_iso}"),
    ("zh", 2, "防火墙拦截了来自{IP:ipv4}和{IP:ipv6}的访问，规则版本{NEG:semver}。"),
    ("zh", 2, "我叫{PERSON:zh_name}，我的身份证号码是{CN_ID:cn_id}，帮我写一份租房合同。"),
    ("zh", 2, "退款请打到这张卡：{CARD:card}（{TXT:city}分行），户名{PERSON:zh_name}。"),
    ("zh", 2, "海外客户电话{PHONE:intl}，邮箱{EMAIL:email}，请安排英文客服回访。"),
    ("zh", 2, "{PERSON:zh_surname}老师，我的学号是{NEG:amount}，邮箱{EMAIL:email}，作业已提交。"),
    ("zh", 2, "DNS 解析结果：{IP:ipv6}，备用{IP:ipv4}"),
    ("zh", 2, "护照号码：{PASSPORT:passport_us}，国籍：美国，姓名：{PERSON:en_name}"),
    ("zh", 3, "实名认证失败：姓名{PERSON:zh_name}，身份证号码{CN_ID:cn_id}，请上传清晰照片。"),
    ("zh", 3, "乘机人：{PERSON:zh_name} 证件：身份证 {CN_ID:cn_id} 航班：CA1501 {NEG:date_iso}"),
    ("zh", 3, "自动扣款失败，卡号{CARD:card}余额不足，应还金额{NEG:amount}元。"),
    ("zh", 3, "出入境记录查询：护照{PASSPORT:passport_cn}，出境日期{NEG:date_zh}。"),
    ("zh", 2, "如有疑问请联系我们（邮箱：{EMAIL:email}）。"),
    ("zh", 2, "备用号码：{PHONE:mobile_plain}、{PHONE:mobile_plain}，工作日{NEG:time}以后再打。"),
    # English
    ("en", 3, "Hi, my name is {PERSON:en_name} and my card {CARD:card} was charged twice on {NEG:date_iso}. Order #{NEG:order16}."),
    ("en", 3, "Dear Mr. {PERSON:en_last}, your passport number {PASSPORT:passport_us} has been recorded for the trip to {TXT:city_en}."),
    ("en", 3, "Contact: {PERSON:en_name} <{EMAIL:email}>, phone {PHONE:intl}"),
    ("en", 3, "Thanks for your help.\n\nRegards,\n{PERSON:en_name}\n{EMAIL:email}\n{PHONE:intl}"),
    ("en", 2, "Please see the attached agreement.\nsigned, {PERSON:en_name}"),
    ("en", 3, "sshd[2231]: Failed password for invalid user admin from {IP:ipv4} port {NEG:port} ssh2"),
    ("en", 3, '[{NEG:datetime}] "GET /api/v1/orders HTTP/1.1" 200 client={IP:ip_any} ua="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{NEG:chrome_ver}"'),
    ("en", 3, "Please update my email to {EMAIL:email} and my mobile to {PHONE:mobile}."),
    ("en", 3, "Passport No. {PASSPORT:passport_foreign} expires on {NEG:date_en}."),
    ("en", 3, "I'm {PERSON:en_name} from accounts, can you call me back at {PHONE:intl}? Ticket {NEG:int}."),
    ("en", 2, "Card ending {NEG:card_tail} was declined. Full number {CARD:card}, exp {NEG:exp}."),
    ("en", 2, "Upstream [{IP:ipv6}]:{NEG:port} responded in {NEG:ms}; host runs build {NEG:build}."),
    ("en", 2, "Attn: {PERSON:en_name}, the wire for $ {NEG:price} is pending. Reply to {EMAIL:email}."),
    ("en", 2, "Traveller: Ms. {PERSON:en_last}\nPassport #: {PASSPORT:passport_foreign}\nSeat: 14C"),
    ("en", 2, "Form submitted: name={PERSON:en_name}; email={EMAIL:email}; ip={IP:ipv4}; ts={NEG:ts}"),
    ("en", 2, "Our office in Shanghai: {PHONE:landline}. Ask for Dr. {PERSON:en_last}."),
    ("en", 2, "Billing: the card on file {CARD:card} will be charged ¥{NEG:price} on {NEG:date_en}."),
    ("en", 2, '{"event": "login", "user_ip": "{IP:ip_any}", "email": "{EMAIL:email}", "trace": "{NEG:uuid}"}'),
    ("en", 2, "Hello, this is {PERSON:en_name}. My passport number is {PASSPORT:passport_cn} and the booking ref is {NEG:order16}."),
    ("en", 2, "Dear Mrs. {PERSON:en_last}, we have received your payment from card {CARD:card}."),
    ("en", 2, "Can you draft a reply to {PERSON:en_name} ({EMAIL:email})? She called from {PHONE:intl} at {NEG:time}."),
    ("en", 2, "KYC check: CN resident ID {CN_ID:cn_id}, holder {PERSON:en_name}."),
    ("en", 3, "Charge 4 of 5 declined: card {CARD:card}, merchant ref {NEG:order16}."),
    ("en", 2, "Applicant's passport number: {PASSPORT:passport_foreign}; previous passport {PASSPORT:passport_cn}."),
    ("en", 2, "Blocked {IP:ipv6} after 5 failed logins (limit {NEG:int}/min)."),
    ("en", 2, "Send the signed copy to {EMAIL:email}."),
    ("en", 2, "cc: {EMAIL:email};{EMAIL:email}"),
    ("en", 2, "New sign-in to your account from {IP:ipv4}. Not you? Reset your password."),
    ("en", 2, "The old proxy pool was retired; new egress is {IP:ipv4}:{NEG:port}."),
    # mixed Chinese and English
    ("mixed", 3, "Hi 客服，我的email是{EMAIL:email}，phone {PHONE:mobile}，订单号{NEG:order16}"),
    ("mixed", 3, "麻烦帮我改一下 shipping address, 收件人 {PERSON:zh_name}, tel: {PHONE:mobile}"),
    ("mixed", 3, "My ID card number 是{CN_ID:cn_id}，please verify，谢谢"),
    ("mixed", 2, "VPN 连不上，我的IP是{IP:ipv4}，gateway {IP:ipv4}，客户端版本 {NEG:semver}"),
    ("mixed", 2, "prompt: 帮我写一封邮件给{PERSON:zh_name}（{EMAIL:email}），告诉他发票号码{NEG:invoice}已经开好。"),
    ("mixed", 2, "Name: {PERSON:en_name} / 护照号码：{PASSPORT:passport_cn} / Mobile: {PHONE:mobile}"),
    ("mixed", 2, "付款失败 card={CARD:card} amount=¥{NEG:price_small} err=DECLINED time={NEG:datetime}"),
    ("mixed", 2, "Please call 联系人：{PERSON:zh_name} at {PHONE:landline}, or email {EMAIL:email}."),
    ("mixed", 2, "用户 {IP:ipv6} 多次登录失败，UA: Python/{NEG:pyver} requests"),
    ("mixed", 2, "passport number {PASSPORT:passport_us}，出生日期{NEG:date_zh}，请在 form 里填写。"),
    ("mixed", 2, "我叫{PERSON:zh_name}, my Visa card is {CARD:card}, 身份证 {CN_ID:cn_id}"),
    ("mixed", 2, "Customer {PERSON:en_name} 的香港电话是{PHONE:intl}，内地手机{PHONE:mobile}"),
    ("mixed", 3, "nginx 报错：upstream {IP:ipv4}:{NEG:port} 连接被拒绝"),
    ("mixed", 2, "身份证 ID: {CN_ID:cn_id} / card: {CARD:card}"),
    ("mixed", 2, "{PERSON:zh_name}先生 passport no. {PASSPORT:passport_cn}, seat 32A, 航班 MU5101"),
]

NEGATIVE = [
    # Chinese
    ("zh", 3, "订单号{NEG:order16}已发货，快递单号{NEG:tracking}，预计{NEG:date_zh}送达。"),
    ("zh", 3, "您的订单{NEG:order18}金额¥{NEG:price}，已于{NEG:datetime}支付成功。"),
    ("zh", 2, "发票号码{NEG:invoice}，开票日期{NEG:date_iso}，价税合计¥{NEG:price}"),
    ("zh", 2, "会员卡号{NEG:luhn_fail_grouped}，积分{NEG:int}，有效期至{NEG:date_compact}"),
    ("zh", 2, "系统版本 {NEG:build}，Python {NEG:pyver}，请升级后重试。"),
    ("zh", 3, "工单{NEG:ticket14}已受理，请勿重复提交。"),
    ("zh", 2, "邮编{NEG:zip}，{TXT:city}市海淀区清华园1号，营业时间{NEG:time}-21:00"),
    ("zh", 2, "请在下午{NEG:time}前提交报销单，金额合计{NEG:amount}元。"),
    ("zh", 1, "{NEG:no_name=我叫了}个车，大概十分钟到。"),
    ("zh", 1, "{NEG:no_name=先生们、女士们}，本次航班即将起飞。"),
    ("zh", 2, "姓名：________  电话：________  （请用正楷填写）"),
    ("zh", 2, "{NEG:no_number=护照}过期了怎么办？需要带什么材料？"),
    ("zh", 1, "身份证号码是18位，最后一位可能是X，对吗？"),
    ("zh", 3, "档案编号{NEG:id_bad_checksum}已归档，请勿外传。"),
    ("zh", 2, "证件号{NEG:id_bad_date}校验失败，请核对出生日期。"),
    ("zh", 2, "时间戳{NEG:ts_ms}对应北京时间{NEG:datetime}"),
    ("zh", 2, "图书ISBN {NEG:isbn}，定价¥{NEG:price_small}"),
    ("zh", 2, "提交{NEG:sha1}修复了内存泄漏"),
    ("zh", 2, "设备MAC地址{NEG:mac}，固件{NEG:semver}"),
    ("zh", 1, "手机号码应为11位，以1开头，第二位是3到9。"),
    ("zh", 3, "流水号{NEG:mobile_bad}，交易金额{NEG:amount}元"),
    ("zh", 2, "电话号码{NEG:mobile_short}少了一位，请重新输入。"),
    ("zh", 1, "{NEG:no_name=王者荣耀}新赛季下周开启，{NEG:no_name=张三李四}只是举例。"),
    ("zh", 2, "快递单号{NEG:tracking}，运费¥{NEG:price_small}"),
    ("zh", 1, "{NEG:no_name=联系人：}（未填写）"),
    ("zh", 2, "OID {NEG:oid} 的值异常，采样间隔{NEG:ms}"),
    # English
    ("en", 3, "Order {NEG:order16} shipped via UPS {NEG:ups}, expected {NEG:date_en}."),
    ("en", 2, "Running Python {NEG:pyver} on Windows build {NEG:build}; pip {NEG:semver}."),
    ("en", 2, "Invoice INV-{NEG:invoice_en} total $ {NEG:price} due {NEG:date_iso}."),
    ("en", 1, "Dear Sir or Madam, I am writing about my {NEG:no_number=passport} renewal application."),
    ("en", 1, "Please select {NEG:no_name=Mr}, Mrs or Ms in the title field."),
    ("en", 1, "{NEG:no_name=signed, sealed}, delivered: the contract is final."),
    ("en", 1, "{NEG:no_name=Contact: customer support} (24/7)."),
    ("en", 2, "commit {NEG:sha1} bumps the version to {NEG:semver}"),
    ("en", 2, "Request {NEG:uuid} took {NEG:ms}; sha256 {NEG:sha256}"),
    ("en", 2, "SNMP walk of OID {NEG:oid} returned 42"),
    ("en", 2, "Gift card {NEG:luhn_fail_grouped} has a balance of $ {NEG:price_small}."),
    ("en", 2, "Error 0x{NEG:hex8} at {NEG:time}:07 in module core.dll"),
    ("en", 2, "Tracking number {NEG:tracking}; ISBN {NEG:isbn_plain} is out of stock."),
    ("en", 1, "{NEG:no_name=My name is not} important, I just need the {NEG:no_number=passport} office hours."),
    ("en", 2, "Build {NEG:build} (Chrome/{NEG:chrome_ver}) crashed at {NEG:datetime}."),
    ("en", 2, "Bad address {NEG:ipv4_bad} rejected by the validator."),
    ("en", 2, "Mention {NEG:handle} on the forum, not by email; see {TXT:domain} for details."),
    ("en", 1, "Your {NEG:no_number=passport number} must be entered exactly as printed."),
    ("en", 2, "Reference {NEG:luhn_fail16} does not match any card on file."),
    ("en", 1, "{NEG:no_name=Dear Customer}, thank you for shopping with us."),
    ("en", 2, "Commit {NEG:short_hash} merged; cache key {NEG:sha1}"),
    # mixed Chinese and English
    ("mixed", 2, "订单 order no. {NEG:order16}，amount ¥{NEG:price}，Python {NEG:pyver} 报错"),
    ("mixed", 2, "时间 {NEG:datetime} build {NEG:build} 崩溃，hash {NEG:sha1}"),
    ("mixed", 2, "SKU {NEG:emp_no}-{NEG:int} 库存不足，ETA {NEG:date_en}"),
    ("mixed", 2, "timestamp {NEG:ts} 和 {NEG:ts_ms} 哪个是毫秒？"),
    ("mixed", 1, "请问 {NEG:no_number=passport} 和护照是一回事吗？"),
    ("mixed", 2, "MAC {NEG:mac} 的设备在 {NEG:time} 上线，version {NEG:semver}"),
    ("mixed", 2, "ticket #{NEG:ticket14} 已关闭，invoice {NEG:invoice}"),
]
# fmt: on

SLOT = re.compile(r"\{(EMAIL|PHONE|CN_ID|CARD|IP|PASSPORT|PERSON|NEG|TXT):([^{}]+)\}")


def render(template: str, maker: Maker) -> tuple[str, list[dict], list[dict]]:
    text, entities, lookalikes, pos = "", [], [], 0
    for m in SLOT.finditer(template):
        text += template[pos : m.start()]
        pos = m.end()
        kind, arg = m.group(1), m.group(2)
        if kind == "NEG" and "=" in arg:
            name, value = arg.split("=", 1)
        else:
            name, value = arg, getattr(maker, arg)()
        start = len(text)
        text += value
        if kind in TYPES:
            entities.append({"type": kind, "start": start, "end": len(text)})
        elif kind == "NEG":
            lookalikes.append({"kind": name, "start": start, "end": len(text)})
    text += template[pos:]
    return text, entities, lookalikes


def build(seed: int = SEED) -> list[dict]:
    maker = Maker(random.Random(seed))
    snippets: list[dict] = []
    for group, templates in (("pos", POSITIVE), ("neg", NEGATIVE)):
        counters: dict[str, int] = {}
        for lang, reps, template in templates:
            for _ in range(reps):
                text, entities, lookalikes = render(template, maker)
                counters[lang] = counters.get(lang, 0) + 1
                snippets.append(
                    {
                        "id": f"{lang}-{group}-{counters[lang]:03d}",
                        "lang": lang,
                        "text": text,
                        "entities": entities,
                        "lookalikes": lookalikes,
                    }
                )
    return snippets


def dumps(snippets: list[dict]) -> str:
    return "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in snippets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    content = dumps(build())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != content:
            print(f"{args.out} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(content, encoding="utf-8")
    print(f"wrote {len(content.splitlines())} snippets to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
