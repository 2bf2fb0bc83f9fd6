"""Money in integer nano-dollars: exact conversions and half-up rounding at each edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from modelmint.billing.money import (
    cents_to_usd,
    format_usd,
    nanos_to_cents,
    nanos_to_usd,
    tokens_price,
    usd_to_nanos,
)


@pytest.mark.parametrize(
    ("amount", "nanos"),
    [
        ("0", 0),
        ("0.15", 150_000_000),
        ("1", 1_000_000_000),
        ("0.000000001", 1),
        (Decimal("12.5"), 12_500_000_000),
        (3, 3_000_000_000),
        ("1e-3", 1_000_000),
    ],
)
def test_usd_to_nanos_is_exact(amount, nanos):
    assert usd_to_nanos(amount) == nanos


@pytest.mark.parametrize("amount", ["-0.01", "abc", "NaN", "Infinity", "0.0000000001", ""])
def test_usd_to_nanos_refuses_what_is_not_a_price(amount):
    with pytest.raises(ValueError):
        usd_to_nanos(amount)


def test_nanos_back_to_usd_round_trips():
    assert nanos_to_usd(usd_to_nanos("123.456789012")) == Decimal("123.456789012")


@pytest.mark.parametrize(
    ("nanos", "cents"),
    [(0, 0), (4_999_999, 0), (5_000_000, 1), (10_000_000, 1), (14_999_999, 1), (15_000_000, 2)],
)
def test_nanos_to_cents_rounds_half_up(nanos, cents):
    assert nanos_to_cents(nanos) == cents


def test_cents_to_usd_has_two_places():
    assert str(cents_to_usd(1234)) == "12.34"
    assert str(cents_to_usd(5)) == "0.05"


@pytest.mark.parametrize(
    ("tokens", "per_mtok", "nanos"),
    [
        (1_000_000, 150_000_000, 150_000_000),  # a million tokens cost the listed price
        (1, 150_000_000, 150),
        (1, 1_500_000, 2),  # 1.5 nanos rounds half up
        (1, 1_499_999, 1),
        (3, 0, 0),
        (0, 10**12, 0),
    ],
)
def test_tokens_price_rounds_half_up_to_the_nano(tokens, per_mtok, nanos):
    assert tokens_price(tokens, per_mtok) == nanos


def test_format_usd():
    assert format_usd(10_000_000, 2) == "$0.01"
    assert format_usd(123_456_789) == "$0.1235"
    assert format_usd(0) == "$0.0000"
