"""The values of the PII corpus: checksums, pools of names, regions and domains, and
`Maker`, whose methods make each kind of value and lookalike (`make_corpus.py` fills the
templates' slots with them). All values are fake; all randomness comes from `Maker.rng`.
"""

# ruff: noqa: E501 (the pools below keep one list a line)

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass, field

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
