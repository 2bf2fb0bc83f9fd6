"""Bounds on what people type into the admin API and the CLI, and safe printing of names.

Numbers must fit their SQL columns after unit conversion (USD -> nano-dollars, x 1e9) and
keep the billing arithmetic inside a signed 64-bit integer (< 2**63, about 9.22e18):

- rpm and tpm: 1 to 1e8 a minute (32-bit INTEGER columns on PostgreSQL). The token
  bucket never admits a request larger than its tpm, so one request holds at most 1e8
  tokens, and an organization uses at most 1e8 x 44,641 minutes ~ 4.5e12 tokens a month.
- prices: 0 to 1,000 USD per million tokens (1e12 nanos per million, 1e6 per token; above
  the public list prices of hosted models). A request then costs at most 1e8 x 1e6 = 1e14
  nanos and an organization's month at most 4.5e12 x 1e6 = 4.5e18 nanos, under half of 2**63,
  so two replicas enforcing tpm each on their own (no Redis) still fit.
- spend limits and monthly plan prices: 0 to 1e9 USD (1e18 nanos), so a month's invoice
  (subscription plus usage, at most ~5.5e18 nanos) and the budget sums stay below 2**63.
- token limits and included tokens: 0 to 1e15 a month (more than 200x what tpm allows).
- concurrent requests: 1 to 1e6; retention: 1 to 3,650 days.
- times: 1970-01-01 to 9998-12-31 UTC, so that the month after any of them exists.
- names refuse control characters (C0, DEL, C1), surrogates, line and paragraph separators
  and bidirectional overrides: they break PostgreSQL (NUL), terminals and what people read.

The checks raise ValueError naming the field and its bounds; the `Annotated` types below
run them inside pydantic models (a 400 from the API, a red line from the CLI).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

MAX_PER_MINUTE = 100_000_000
MAX_CONCURRENT = 1_000_000
MAX_TOKENS_PER_MONTH = 10**15
MAX_USD_PER_MONTH = Decimal(1_000_000_000)
MAX_USD_PER_MTOK = Decimal(1_000)
MAX_RETENTION_DAYS = 3650
USD_PLACES = 9  # nano-dollars
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9998, 12, 31, 23, 59, 59, 999999)
MAX_NAMES = 1000  # models in a plan's prices or an allow-list

# formatting characters that reorder what is shown (Trojan Source, CVE-2021-42574)
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

T = TypeVar("T")


def is_unsafe(char: str) -> bool:
    """A control, surrogate, line/paragraph separator or bidirectional control."""
    return char in BIDI_CONTROLS or unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    point = ord(char)
    if point <= 0xFF:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


def printable(text: str, keep: str = "") -> str:
    """`text` with unsafe characters (but those in `keep`) written as \\xNN, \\uNNNN."""
    if text.isprintable():  # the common case, fast
        return text
    return "".join(_escape(c) if c not in keep and is_unsafe(c) else c for c in text)


def check_name(field: str, value: str) -> str:
    for index, char in enumerate(value):
        if is_unsafe(char):
            raise ValueError(
                f"{field} must not contain control, line-separator or bidirectional "
                f"characters; found U+{ord(char):04X} at position {index}"
            )
    return value


def check_int(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{field} must be between {low} and {high}")
    return value


def check_usd(field: str, value: Decimal, high: Decimal, unit: str = "USD") -> Decimal:
    """A finite amount of dollars in [0, high] with at most 9 decimal places; -0 is 0."""
    if not value.is_finite() or not 0 <= value <= high:
        raise ValueError(f"{field} must be between 0 and {high} {unit}")
    try:
        whole = value.quantize(Decimal(1).scaleb(-USD_PLACES))
    except InvalidOperation:  # too many digits for the context: not a whole nano
        whole = None
    if whole != value:
        raise ValueError(f"{field} must have at most {USD_PLACES} decimal places")
    return abs(value) if value == 0 else value


def check_moment(field: str, value: datetime) -> datetime:
    """A time the store can keep (naive is UTC); returned unchanged."""
    try:
        utc = value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # an offset that pushes it past year 1 or 9999
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"{field} must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} UTC")
    return value


def check_month(field: str, value: str) -> str:
    """A month as YYYY-MM within the time bounds."""
    year, dash, month = value.partition("-")
    digits = year + month
    ok = dash and len(year) == 4 and len(month) == 2 and digits.isascii() and digits.isdigit()
    if not ok or not 1 <= int(month) <= 12 or not EARLIEST.year <= int(year) <= LATEST.year:
        raise ValueError(
            f"{field} must be a month as YYYY-MM between {EARLIEST:%Y-%m} and {LATEST:%Y-%m}"
        )
    return value


def _out_of_bounds(exc: ValueError) -> PydanticCustomError:
    """A check's message as pydantic's error, without pydantic's "Value error, " prefix."""
    return PydanticCustomError("out_of_bounds", "{reason}", {"reason": str(exc)})


def _validator(check: Callable[..., T], *bounds: Any) -> AfterValidator:
    """`check(field, value, *bounds)` in pydantic, its message as the error (no prefix)."""

    def validate(value: T, info: ValidationInfo) -> T:
        try:
            return check(info.field_name or "value", value, *bounds)
        except ValueError as exc:
            raise _out_of_bounds(exc) from None

    return AfterValidator(validate)


def _int_validator(low: int, high: int) -> WrapValidator:
    """`check_int` in pydantic; a whole float too large for pydantic's int parser (a JSON
    1e30) gets the same message as any other number out of bounds."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> int:
        field = info.field_name or "value"
        if isinstance(value, bool):  # JSON true is not 1 here
            raise PydanticCustomError("int_type", "{field} must be an integer", {"field": field})
        try:
            parsed = handler(value)
        except ValidationError:
            if isinstance(value, float) and value.is_integer():
                parsed = int(value)  # finite: is_integer() is False for inf and nan
            else:
                raise
        try:
            return check_int(field, parsed, low, high)
        except ValueError as exc:
            raise _out_of_bounds(exc) from None

    return WrapValidator(validate)


def _range(low: int | Decimal, high: int | Decimal) -> Any:
    """The bounds in the OpenAPI schema (the check above enforces them, with its message)."""
    return Field(json_schema_extra={"minimum": int(low), "maximum": int(high)})


PerMinute = Annotated[int, _int_validator(1, MAX_PER_MINUTE), _range(1, MAX_PER_MINUTE)]
Concurrency = Annotated[int, _int_validator(1, MAX_CONCURRENT), _range(1, MAX_CONCURRENT)]
TokensPerMonth = Annotated[
    int, _int_validator(0, MAX_TOKENS_PER_MONTH), _range(0, MAX_TOKENS_PER_MONTH)
]
RetentionDays = Annotated[int, _int_validator(1, MAX_RETENTION_DAYS), _range(1, MAX_RETENTION_DAYS)]
# allow_inf_nan: NaN and Infinity reach the check, whose message states the bounds
UsdPerMonth = Annotated[
    Decimal,
    Field(allow_inf_nan=True),
    _validator(check_usd, MAX_USD_PER_MONTH),
    _range(0, MAX_USD_PER_MONTH),
]
UsdPerMtok = Annotated[
    Decimal,
    Field(allow_inf_nan=True),
    _validator(check_usd, MAX_USD_PER_MTOK, "USD per million tokens"),
    _range(0, MAX_USD_PER_MTOK),
]
Moment = Annotated[datetime, _validator(check_moment)]
Month = Annotated[str, _validator(check_month)]
SafeName = Annotated[str, _validator(check_name)]
