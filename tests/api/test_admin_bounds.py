"""Out-of-range numbers, times and names at the admin API: a 400 in OpenAI's shape that
names the field and its bounds, nothing written, on SQLite and on PostgreSQL; the largest
accepted values fit the columns and the billing arithmetic; random input never gets a 5xx.

The PostgreSQL cases run in a database of their own (made and dropped here), so they
neither wipe nor see the tables other tests use at the same time."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from modelmint.billing.money import tokens_price, usd_to_nanos
from modelmint.core import bounds
from modelmint.store.tables import (
    api_keys,
    audit_log,
    orgs,
    plan_prices,
    plans,
    privacy_policies,
    subscriptions,
    usage_ledger,
)
from tests.business_helpers import (
    BACKENDS,
    POSTGRES_URL,
    Business,
    business_settings,
    caught_up,
    chat,
    running,
)

INT64 = bounds.INT64_MAX
WRITTEN = (orgs, plans, plan_prices, api_keys, subscriptions, audit_log, privacy_policies)
PRICE = {"*": {"input": "0.10", "output": "0.20"}}
OWN_DATABASE = "modelmint_test_admin_bounds"


def own_postgres() -> str:
    """A fresh database for this module on the test server; its URL."""
    assert POSTGRES_URL
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {OWN_DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {OWN_DATABASE}"))
    finally:
        server.dispose()
    return make_url(POSTGRES_URL).set(database=OWN_DATABASE).render_as_string(False)


def drop_own_postgres() -> None:
    assert POSTGRES_URL
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {OWN_DATABASE} WITH (FORCE)"))
    finally:
        server.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
async def admin(request, tmp_path_factory) -> AsyncIterator[Business]:
    """A running app on a fresh database (one per backend for the module)."""
    folder = tmp_path_factory.mktemp(f"bounds-{request.param}")
    url = own_postgres() if request.param == "postgresql" else f"sqlite:///{folder / 'b.db'}"
    try:
        async with running(business_settings(folder, database_url=url)) as business:
            yield business
    finally:
        if request.param == "postgresql":
            drop_own_postgres()


async def row_counts(business: Business) -> dict[str, int]:
    def count(connection) -> dict[str, int]:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in WRITTEN
        }

    return await business.platform.infra.db.read(count)


async def send(business: Business, method: str, path: str, body: Any) -> httpx.Response:
    """JSON with \\u escapes (httpx's own encoder cannot send a lone surrogate)."""
    content = None if body is None else json.dumps(body)
    headers = {"content-type": "application/json"}
    request = business.http.request(method, path, content=content, headers=headers)
    return await asyncio.wait_for(request, timeout=30)


def error_of(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    return error


def plan(**fields: Any) -> dict:
    return {"name": "p-" + str(next(_names)), "prices": PRICE, **fields}


_names = itertools.count()
BIG = 2**63
# (method, path, body, the field the error must name, words the message must hold)
RANGE = ("must be between",)
CASES: list[tuple[str, str, Any, str, tuple[str, ...]]] = [
    # the reproductions of the finding, then their neighbours
    ("POST", "/admin/plans", plan(rpm=BIG), "rpm", ("rpm must be between 1 and 100000000",)),
    ("POST", "/admin/plans", plan(tpm=2**62), "tpm", ("tpm must be between 1 and 100000000",)),
    ("POST", "/admin/plans", plan(max_concurrent=BIG), "max_concurrent", ("1000000",)),
    ("POST", "/admin/plans", plan(rpm=True), "rpm", ("rpm must be an integer",)),
    ("POST", "/admin/plans", plan(rpm=1e30), "rpm", ("rpm must be between 1 and 100000000",)),
    ("POST", "/admin/plans", plan(included_tokens=2**64), "included_tokens", RANGE),
    ("POST", "/admin/plans", plan(included_tokens=-1), "included_tokens", RANGE),
    ("POST", "/admin/plans", plan(monthly_price=1e30), "monthly_price", ("0 and 1000000000",)),
    ("POST", "/admin/plans", plan(monthly_price="1e400"), "monthly_price", RANGE),
    ("POST", "/admin/plans", plan(monthly_price="NaN"), "monthly_price", RANGE),
    (
        "POST",
        "/admin/plans",
        plan(prices={"*": {"input": 1e20, "output": "0.2"}}),
        "prices",
        ("input must be between 0 and 1000 USD per million tokens",),
    ),
    (
        "POST",
        "/admin/plans",
        plan(prices={"*": {"input": "0.1", "output": "Infinity"}}),
        "prices",
        ("output", "1000"),
    ),
    (
        "POST",
        "/admin/plans",
        plan(prices={"*": {"input": "0.1", "output": "0.0000000001"}}),
        "prices",
        ("9 decimal places",),
    ),
    ("POST", "/admin/plans", plan(name="pro\x00"), "name", ("U+0000",)),
    ("POST", "/admin/plans", plan(name="pro\u202egnp.exe"), "name", ("U+202E",)),
    ("POST", "/admin/plans", plan(allowed_models=["m\x1b[31m"]), "allowed_models", ("U+001B",)),
    (
        "POST",
        "/admin/plans",
        plan(prices={**PRICE, "evil\x85": {"input": "1", "output": "1"}}),
        "prices",
        ("U+0085",),
    ),
    (
        "POST",
        "/admin/plans",
        plan(prices={**PRICE, "m" * 257: {"input": "1", "output": "1"}}),
        "prices",
        ("256",),
    ),
    ("POST", "/admin/orgs", {"name": "acme", "spend_limit": 1e30}, "spend_limit", RANGE),
    ("POST", "/admin/orgs", {"name": "acme", "spend_limit": "1e400"}, "spend_limit", RANGE),
    ("POST", "/admin/orgs", {"name": "acme", "spend_limit": "-Infinity"}, "spend_limit", RANGE),
    ("POST", "/admin/orgs", {"name": "acme", "token_limit": BIG}, "token_limit", RANGE),
    ("POST", "/admin/orgs", {"name": "ac\x00me"}, "name", ("U+0000",)),
    ("POST", "/admin/orgs", {"name": "acme\ud800"}, "name", ("valid string",)),  # JSON parser
    ("POST", "/admin/orgs", {"name": "acme", "plan": "starter\x00"}, "plan", ("U+0000",)),
    ("POST", "/admin/keys", {"org": "admin", "rpm": BIG}, "rpm", ("1 and 100000000",)),
    ("POST", "/admin/keys", {"org": "admin", "tpm": 2**62}, "tpm", RANGE),
    ("POST", "/admin/keys", {"org": "admin", "spend_limit": 1e30}, "spend_limit", RANGE),
    ("POST", "/admin/keys", {"org": "admin", "token_limit": BIG}, "token_limit", RANGE),
    ("POST", "/admin/keys", {"org": "admin", "name": "ci\x07"}, "name", ("U+0007",)),
    ("POST", "/admin/keys", {"org": "admin\x00"}, "org", ("U+0000",)),
    (
        "POST",
        "/admin/keys",
        {"org": "admin", "expires_at": "9999-12-31T23:00:00-05:00"},
        "expires_at",
        ("1970-01-01 and 9998-12-31",),
    ),
    (
        "POST",
        "/admin/keys",
        {"org": "admin", "expires_at": "0001-01-01T00:00:00+05:00"},
        "expires_at",
        RANGE,
    ),
    ("PATCH", "/admin/orgs/admin/limits", {"spend_limit": 1e30}, "spend_limit", RANGE),
    ("PATCH", "/admin/orgs/admin/limits", {"token_limit": 2**64}, "token_limit", RANGE),
    (
        "POST",
        "/admin/orgs/admin/subscriptions",
        {"plan": "starter", "starts_at": "9999-12-31T00:00:00Z"},
        "starts_at",
        RANGE,
    ),
    (
        "POST",
        "/admin/orgs/admin/subscriptions",
        {"plan": "starter", "starts_at": "0001-01-01T00:00:00Z"},
        "starts_at",
        RANGE,
    ),
    (
        "POST",
        "/admin/plans/starter/prices",
        {"model": "*", "input": 1e20, "output": "0.2"},
        "input",
        RANGE,
    ),
    (
        "POST",
        "/admin/plans/starter/prices",
        {"model": "m\x00", "input": "1", "output": "2"},
        "model",
        ("U+0000",),
    ),
    (
        "POST",
        "/admin/plans/starter/prices",
        {"model": "*", "input": "1", "output": "2", "effective_from": "0001-01-01T00:00:00+01:00"},
        "effective_from",
        RANGE,
    ),
    ("PUT", "/admin/orgs/admin/privacy", {"retention_days": BIG}, "retention_days", RANGE),
    ("PUT", "/admin/orgs/admin/privacy", {"retention_days": 0}, "retention_days", ("1 and 3650",)),
    ("PUT", "/admin/orgs/admin/privacy", {"store_bodies": 1}, "store_bodies", ("boolean",)),
    ("PUT", "/admin/orgs/admin/privacy", {"store_bodies": "yes"}, "store_bodies", ("boolean",)),
    # names and months in paths and queries
    ("PATCH", "/admin/orgs/ad%00min/limits", {}, "org", ("U+0000",)),
    ("POST", "/admin/plans/st%00arter/prices", {"model": "*", "input": 1, "output": 1}, "plan", ()),
    ("POST", "/admin/keys/key_%00/revoke", None, "key_id", ("U+0000",)),
    ("GET", "/admin/keys?org=%00", None, "org", ("U+0000",)),
    ("GET", "/admin/usage?month=9999-12", None, "month", ("1970-01 and 9998-12",)),
    ("GET", "/admin/usage?month=2026-13", None, "month", ("YYYY-MM",)),
    ("GET", "/admin/usage?org=%1b%5b2J", None, "org", ("U+001B",)),
    ("GET", "/admin/invoices/admin?month=0000-01", None, "month", ("YYYY-MM",)),
    ("GET", "/admin/invoices/%00", None, "org", ("U+0000",)),
    ("POST", "/admin/invoices/admin/9999-12/finalize", None, "month", ("YYYY-MM",)),
    ("GET", "/admin/orgs/%00/privacy", None, "org", ("U+0000",)),
    ("DELETE", "/admin/orgs/%00/bodies", None, "org", ("U+0000",)),
]


@pytest.mark.parametrize(
    "method, path, body, field, words", CASES, ids=[f"{c[0]} {c[1][:40]} {c[3]}" for c in CASES]
)
async def test_out_of_range_is_a_400_naming_the_field_and_nothing_is_written(
    admin, method, path, body, field, words
):
    before = await row_counts(admin)
    response = await send(admin, method, path, body)
    error = error_of(response)
    assert field in (error["param"] or "") or field in error["message"], error
    for word in words:
        assert word in error["message"], error
    assert await row_counts(admin) == before  # no half-made plan, org, key or audit row


async def test_the_largest_accepted_values_fit_the_columns(admin):
    """Each bound itself is stored and read back exactly, on both databases."""
    top = str(bounds.MAX_USD_PER_MTOK)
    made = await admin.plan(
        "edge-" + str(next(_names)),
        prices={"*": {"input": top, "output": top}, "m" * 256: {"input": "0", "output": "-0"}},
        monthly_price=str(bounds.MAX_USD_PER_MONTH),
        included_tokens=bounds.MAX_TOKENS_PER_MONTH,
        rpm=bounds.MAX_PER_MINUTE,
        tpm=bounds.MAX_PER_MINUTE,
        max_concurrent=bounds.MAX_CONCURRENT,
        allowed_models=["m" * 256, "n"],
    )
    assert made["monthly_price_nanos"] == 10**18 and made["tpm"] == bounds.MAX_PER_MINUTE
    name = "o" * 200
    org = await admin.org(
        name,
        plan=made["id"],
        spend_limit=str(bounds.MAX_USD_PER_MONTH),
        token_limit=bounds.MAX_TOKENS_PER_MONTH,
    )
    assert org["spend_limit_nanos"] == 10**18
    key = await admin.key(
        org["id"],
        name="k" * 200,
        rpm=bounds.MAX_PER_MINUTE,
        tpm=bounds.MAX_PER_MINUTE,
        spend_limit="999999999.999999999",
        token_limit=0,
        expires_at="9998-12-31T23:59:59Z",
    )
    assert key["expires_at"] == "9998-12-31T23:59:59Z"
    assert key["spend_limit_nanos"] == 10**18 - 1
    for starts in ("1970-01-01T00:00:00Z", "9998-12-31T23:59:59+00:00"):
        await admin.post(
            f"/admin/orgs/{org['id']}/subscriptions", {"plan": "starter", "starts_at": starts}
        )
    response = await admin.http.put(
        f"/admin/orgs/{org['id']}/privacy", json={"retention_days": bounds.MAX_RETENTION_DAYS}
    )
    assert response.status_code == 200, response.text
    for month in ("1970-01", "9998-12"):
        assert (await admin.http.get(f"/admin/usage?month={month}")).status_code == 200
        assert (
            await admin.http.get(f"/admin/invoices/{org['id']}?month={month}")
        ).status_code == 200


def test_the_bounds_keep_the_billing_arithmetic_in_64_bits():
    top_price = usd_to_nanos(bounds.MAX_USD_PER_MTOK)  # nanos per million tokens
    # one request never holds more tokens than its tpm bucket can take
    worst_request = 2 * tokens_price(bounds.MAX_PER_MINUTE, top_price)
    assert worst_request < INT64
    minutes = 31 * 24 * 60 + 1  # the bucket starts full
    month_tokens = bounds.MAX_PER_MINUTE * minutes
    assert month_tokens < bounds.MAX_TOKENS_PER_MONTH
    month_usage = tokens_price(month_tokens, top_price)
    subscription = usd_to_nanos(bounds.MAX_USD_PER_MONTH)
    assert month_usage + subscription + worst_request < INT64
    # a budget check adds the month's charges, what is held and one more request
    assert usd_to_nanos(bounds.MAX_USD_PER_MONTH) + month_usage + worst_request < INT64
    assert bounds.MAX_TOKENS_PER_MONTH + month_tokens < INT64
    assert max(bounds.MAX_PER_MINUTE, bounds.MAX_CONCURRENT) <= bounds.INT32_MAX


async def test_a_request_at_the_top_price_and_budget_settles_exactly(admin):
    """The hold and settle SQL with the largest price and spend limit, on both databases."""
    top = str(bounds.MAX_USD_PER_MTOK)
    made = await admin.plan("top-" + str(next(_names)), prices={"*": {"input": top, "output": top}})
    org = await admin.org(
        "top-org-" + str(next(_names)),
        plan=made["id"],
        spend_limit=str(bounds.MAX_USD_PER_MONTH),
        token_limit=bounds.MAX_TOKENS_PER_MONTH,
    )
    key = await admin.key(org["id"], spend_limit=str(bounds.MAX_USD_PER_MONTH))
    await caught_up(admin.platform)
    async with admin.client(key["key"]) as client:
        response = await client.post("/v1/chat/completions", json=chat(3, 5))
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]

    def rows(connection):
        query = select(usage_ledger.c.price_nanos).where(usage_ledger.c.org_id == org["id"])
        return connection.execute(query).scalars().all()

    prices = await admin.platform.infra.db.read(rows)
    per_token = usd_to_nanos(top) // 10**6
    assert prices == [usage["total_tokens"] * per_token]


# random numbers, number-like strings and names with control characters: never a 5xx
NUMBER_LIKE = ["1e400", "-1e400", "NaN", "-NaN", "sNaN", "-0", "Infinity", "-Infinity", "1e-400"]
UNSAFE = ["\x00", "\x1b[2J", "\x7f", "\x85", "\u202e", "\u2066", "\u2028", "\ud800", "\r\n"]
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(NUMBER_LIKE),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.none(),
)
names = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.text(max_size=6), st.sampled_from(UNSAFE)), max_size=6).map("".join),
)
times = st.one_of(
    st.sampled_from(
        ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1969-12-31T23:59:59Z"]
    ),
    st.datetimes().map(lambda moment: moment.isoformat()),
    numbers,
)
prices = st.dictionaries(
    names, st.fixed_dictionaries({"input": numbers, "output": numbers}), max_size=3
)


def _body(**fields: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional=fields)


requests = st.one_of(
    st.tuples(
        st.just("/admin/plans"),
        _body(
            name=names,
            monthly_price=numbers,
            included_tokens=numbers,
            rpm=numbers,
            tpm=numbers,
            max_concurrent=numbers,
            allowed_models=st.lists(names, max_size=3),
            prices=prices,
        ),
    ),
    st.tuples(
        st.just("/admin/orgs"),
        _body(name=names, plan=names, spend_limit=numbers, token_limit=numbers),
    ),
    st.tuples(
        st.just("/admin/keys"),
        _body(
            org=st.one_of(st.just("admin"), names),
            name=names,
            rpm=numbers,
            tpm=numbers,
            spend_limit=numbers,
            token_limit=numbers,
            allowed_models=st.lists(names, max_size=3),
            expires_at=times,
        ),
    ),
    st.tuples(
        st.just("/admin/plans/starter/prices"),
        _body(model=names, input=numbers, output=numbers, effective_from=times),
    ),
    st.tuples(st.just("/admin/orgs/admin/subscriptions"), _body(plan=names, starts_at=times)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=requests)
async def test_random_admin_input_never_gets_a_5xx(admin, case):
    path, body = case
    response = await send(admin, "POST", path, body)
    assert response.status_code in (201, 400, 404), (path, body, response.text)
    if response.status_code != 201:
        error_of(response, response.status_code)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(limits=_body(spend_limit=numbers, token_limit=numbers), retention=numbers)
async def test_random_limits_and_retention_never_get_a_5xx(admin, limits, retention):
    response = await send(admin, "PATCH", "/admin/orgs/admin/limits", limits)
    assert response.status_code in (200, 400), response.text
    response = await send(admin, "PUT", "/admin/orgs/admin/privacy", {"retention_days": retention})
    assert response.status_code in (200, 400), response.text


def test_decimal_checks_directly():
    assert bounds.check_usd("x", Decimal("-0"), Decimal(1)) == 0
    assert str(bounds.check_usd("x", Decimal("-0"), Decimal(1))) == "0"
    assert bounds.check_usd("x", Decimal("0.000000001"), Decimal(1)) == Decimal("1e-9")
    for bad in ("NaN", "sNaN", "Infinity", "-1", "1.0000000001", "1e-999999999", "2"):
        with pytest.raises(ValueError, match="x must"):
            bounds.check_usd("x", Decimal(bad), Decimal(1))


def test_printable_escapes_what_names_refuse():
    assert bounds.printable("acme") == "acme"
    assert bounds.printable("a\x00b\x1b[2J\u202ec\ud800") == "a\\x00b\\x1b[2J\\u202ec\\ud800"
    assert bounds.printable("line\nnext\t", keep="\n") == "line\nnext\\x09"
    assert bounds.printable("中文 ok é") == "中文 ok é"
