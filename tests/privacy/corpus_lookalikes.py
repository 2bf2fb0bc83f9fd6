"""Lookalikes for the PII corpus: values that must NOT be detected (order, tracking and
invoice numbers, ID-shaped numbers with a wrong checksum or date, Luhn-failing card-shaped
numbers, dates, prices, versions, hashes, invalid addresses). A mixin of `Maker`
(`corpus_values.py`), whose `rng`, `turn`, `pick` and value makers it uses.
"""

from __future__ import annotations

import datetime as dt
import re
import string

try:
    from tests.privacy.corpus_values import (
        DOMAINS,
        HEX,
        PINYIN,
        REGIONS,
        id_check_char,
        isbn13_complete,
        luhn_ok,
    )
except ImportError:  # run as a script: this folder is on sys.path
    from corpus_values import (  # type: ignore
        DOMAINS,
        HEX,
        PINYIN,
        REGIONS,
        id_check_char,
        isbn13_complete,
        luhn_ok,
    )


class Lookalikes:
    """Lookalike makers (never entities), mixed into `corpus_values.Maker`."""

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
