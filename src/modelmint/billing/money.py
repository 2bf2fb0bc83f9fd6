"""Money as integer nano-dollars (1e-9 USD): exact sums, Decimal at the edges.

Rounding rule: a request's charge is rounded half-up to the nano-dollar; an invoice line
sums its requests' nanos and is rounded half-up to the cent; the invoice total is the sum
of its rounded lines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

NANOS_PER_USD = 10**9
NANOS_PER_CENT = 10**7


def usd_to_nanos(amount: Decimal | str | int) -> int:
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not an amount of dollars, such as 0.15") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"{amount!r} must be a finite, non-negative amount of dollars")
    nanos = value * NANOS_PER_USD
    if nanos != nanos.to_integral_value():
        raise ValueError(f"{amount!r} has more than 9 decimal places")
    return int(nanos)


def nanos_to_usd(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS_PER_USD


def nanos_to_cents(nanos: int) -> int:
    return int((Decimal(nanos) / NANOS_PER_CENT).to_integral_value(rounding=ROUND_HALF_UP))


def cents_to_usd(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def tokens_price(tokens: int, nanos_per_mtok: int) -> int:
    """Price of `tokens` at a price per million tokens, half-up to the nano-dollar."""
    return (tokens * nanos_per_mtok + 500_000) // 1_000_000


def format_usd(nanos: int, places: int = 4) -> str:
    quantum = Decimal(1).scaleb(-places)
    return "$" + str(nanos_to_usd(nanos).quantize(quantum, rounding=ROUND_HALF_UP))
