"""The business layer through the HTTP API: keys and who may do what, rate-limit headers,
budgets, the ledger behind usage reports and invoices, and billing a stream cut short."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from modelmint.api import create_app
from modelmint.billing import ledger
from modelmint.services import admin
from modelmint.store.tables import budget_holds
from tests.business_helpers import (
    Business,
    business_settings,
    caught_up,
    chat,
    counter,
    database_url,
    ledger_rows,
    needs_postgres,
    running,
    until,
)
from tests.helpers import fake_pool, running_server

# 10 USD per million input tokens and 20 per million output: 10_000 and 20_000 nanos a token
PRICES = {"*": {"input": "10", "output": "20"}}
RESET = re.compile(r"^(\d+ms|\d+s|\d+m\d+s)$")
LIMIT_HEADERS = [
    f"x-ratelimit-{what}-{kind}"
    for kind in ("requests", "tokens")
    for what in ("limit", "remaining", "reset")
]


@asynccontextmanager
async def acme(
    tmp_path: Path, plan: dict | None = None, **org_fields
) -> AsyncIterator[tuple[Business, dict, str]]:
    """A running app with the org `acme` on a priced plan, and an inference key of acme's."""
    async with running(business_settings(tmp_path)) as business:
        await business.plan("pro", **{"prices": PRICES, "rpm": 100, "tpm": 100_000, **(plan or {})})
        org = await business.org("acme", plan="pro", **org_fields)
        key = await business.key("acme")
        await business.caught_up()
        yield business, org, key["key"]


def assert_openai_error(response: httpx.Response, status: int, type_: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == type_ and error["message"]
    return error


async def test_rate_limit_headers_on_every_successful_response(tmp_path):
    # slow refills (10 requests, 1000 tokens a minute), and max_tokens that the answers use
    # up, so that nothing flows back into the buckets while the test runs
    limits = {"rpm": 10, "tpm": 1000}
    async with acme(tmp_path, limits) as (business, _, key), business.client(key) as client:
        started = time.monotonic()
        completion = {"model": "default", "prompt": "a b c", "max_tokens": 3}
        responses = [
            await client.post("/v1/chat/completions", json=chat(3, 5)),
            await client.post("/v1/completions", json=completion),
        ]
        async with client.stream(
            "POST", "/v1/chat/completions", json=chat(3, 5, stream=True)
        ) as streamed:
            await streamed.aread()
        responses += [streamed, await client.post("/v1/chat/completions", json=chat(4, 6))]
        elapsed = time.monotonic() - started
    for response in responses:
        assert response.status_code == 200
        assert all(name in response.headers for name in LIMIT_HEADERS), response.headers
        assert response.headers["x-ratelimit-limit-requests"] == "10"
        assert response.headers["x-ratelimit-limit-tokens"] == "1000"
        assert RESET.match(response.headers["x-ratelimit-reset-requests"])
        assert RESET.match(response.headers["x-ratelimit-reset-tokens"])
    requests_left = [int(r.headers["x-ratelimit-remaining-requests"]) for r in responses]
    tokens_left = [int(r.headers["x-ratelimit-remaining-tokens"]) for r in responses]
    assert requests_left == [9, 8, 7, 6]
    # the bucket refills 1000/60 tokens a second: a slow machine may have earned a few back,
    # never more than the elapsed time allows
    refilled = int(elapsed * 1000 / 60) + 1
    for left, spent in zip(tokens_left, [992, 986, 978, 968], strict=True):
        assert spent <= left <= spent + refilled, (tokens_left, elapsed)


async def test_embeddings_responses_carry_rate_limit_headers(tmp_path):
    async with acme(tmp_path) as (business, _, key), business.client(key) as client:
        response = await client.post("/v1/embeddings", json={"model": "embed", "input": "a b"})
    assert response.status_code == 200
    assert all(name in response.headers for name in LIMIT_HEADERS), response.headers


async def test_a_clear_key_never_shows_again(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    async with acme(tmp_path) as (business, org, key):
        other = await business.key("admin", name="second", scopes=["inference", "admin"])
        clear_keys = [key, other["key"], business.admin_key]
        async with business.client(key) as client:
            assert (await client.post("/v1/chat/completions", json=chat(3, 5))).status_code == 200
            body = chat(3, 5, stream=True)
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        async with business.client(tampered) as client:
            assert (await client.get("/v1/models")).status_code == 401
            assert (await client.post("/v1/chat/completions", json=chat(2))).status_code == 401
        seen = []
        for path in [
            "/admin/keys",
            "/admin/keys?org=acme",
            "/admin/orgs",
            "/admin/plans",
            "/admin/usage?by=key",
            "/admin/invoices/acme",
            "/admin/invoices/acme?format=csv",
        ]:
            response = await business.http.get(path)
            assert response.status_code == 200, response.text
            seen.append(response.text)
        revoked = await business.http.post(f"/admin/keys/{other['id']}/revoke")
        seen.append(revoked.text)
        listed = (await business.http.get("/admin/keys")).json()["data"]
        assert {k["prefix"] for k in listed} >= {key[:8], other["key"][:8]}
        files_while_running = _database_bytes(tmp_path)
    logged = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    assert len(caplog.records) > 10, "DEBUG logging should have captured something"
    for clear in [*clear_keys, tampered]:
        secret_part = clear[8:]  # what the shown prefix does not give away
        assert secret_part not in logged
        assert not any(secret_part in text for text in seen)
        for data in (files_while_running, _database_bytes(tmp_path)):
            assert secret_part.encode() not in data


def _database_bytes(data_dir: Path) -> bytes:
    files = [p for p in data_dir.iterdir() if p.name.startswith("modelmint.db")]
    assert any(p.name == "modelmint.db" for p in files)
    return b"".join(p.read_bytes() for p in files)


async def test_who_may_do_what(tmp_path):
    async with acme(tmp_path) as (business, _, key):
        expired = await business.key("acme", expires_at="2020-01-01T00:00:00Z")
        async with business.client(key) as client:
            error = assert_openai_error(await client.get("/admin/orgs"), 403, "permission_error")
            assert "admin" in error["message"]
            assert (await client.post("/admin/keys", json={"org": "acme"})).status_code == 403
        async with business.client(expired["key"]) as client:
            response = await client.post("/v1/chat/completions", json=chat(2))
            error = assert_openai_error(response, 401, "authentication_error")
            assert "expired" in error["message"]
        for token in ["garbage", "mm-" + "A" * 43, key[:-1]]:
            async with business.client(token) as client:
                response = await client.post("/v1/chat/completions", json=chat(2))
                assert_openai_error(response, 401, "authentication_error")
        async with business.client() as client:
            response = await client.post("/v1/chat/completions", json=chat(2))
            error = assert_openai_error(response, 401, "authentication_error")
            assert "Authorization: Bearer" in error["message"]
            response = await client.get("/admin/orgs", headers={"Authorization": f"Basic {key}"})
            assert_openai_error(response, 401, "authentication_error")
            assert (await client.get("/admin/keys")).status_code == 401


async def test_a_revoked_key_stops_working_within_a_second(tmp_path):
    async with acme(tmp_path) as (business, _, key):
        made = await business.key("acme", name="short-lived")
        async with business.client(made["key"]) as client:
            assert (await client.post("/v1/chat/completions", json=chat(2))).status_code == 200
            revoked = await business.http.post(f"/admin/keys/{made['id']}/revoke")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"]
            started = time.monotonic()
            while (await client.post("/v1/chat/completions", json=chat(2))).status_code == 200:
                assert time.monotonic() - started < 1.2, "the revoked key still works"
                await asyncio.sleep(0.02)
            response = await client.post("/v1/chat/completions", json=chat(2))
            error = assert_openai_error(response, 401, "authentication_error")
            assert "revoked" in error["message"]
        async with business.client(key) as client:  # the org's other key is untouched
            assert (await client.post("/v1/chat/completions", json=chat(2))).status_code == 200


async def test_budgets_refuse_with_insufficient_quota_naming_the_limit(tmp_path):
    async with acme(tmp_path, token_limit=30) as (business, org, key):
        capped = await business.key("acme", name="capped", spend_limit="0.0002")
        async with business.client(capped["key"]) as client:
            # worst case 4 * 10_000 + 16 * 20_000 nanos = $0.00036, over the key's $0.0002
            response = await client.post("/v1/chat/completions", json=chat(4, 16))
            error = assert_openai_error(response, 429, "insufficient_quota")
            assert error["code"] == "insufficient_quota"
            assert "API key's monthly spend limit" in error["message"]
            assert (await client.post("/v1/chat/completions", json=chat(2, 4))).status_code == 200
        async with business.client(key) as client:
            # the org has 30 tokens a month; 2 + 4 went above, 3 + 25 more would pass it
            response = await client.post("/v1/chat/completions", json=chat(3, 25))
            error = assert_openai_error(response, 429, "insufficient_quota")
            assert "organization's monthly limit of 30 tokens" in error["message"]
        row = business.platform.infra.db.run(counter, org["id"])
        assert (row.tokens, row.reserved_tokens, row.reserved_nanos) == (6, 0, 0)


async def test_usage_and_invoice_add_up_to_the_ledger(tmp_path):
    # 0.50 and 1 dollar per thousand tokens, so that the invoice has cents to show
    dear = {"prices": {"*": {"input": "500", "output": "1000"}}}
    async with acme(tmp_path, dear) as (business, org, key):
        async with business.client(key) as client:
            for words in (3, 5, 8):
                response = await client.post("/v1/chat/completions", json=chat(words))
                assert response.status_code == 200
        rows = business.platform.infra.db.run(ledger_rows, org["id"])
        usage = (await business.http.get("/admin/usage?by=model")).json()
        invoice = (await business.http.get("/admin/invoices/acme")).json()
        csv = (await business.http.get("/admin/invoices/acme?format=csv")).text
    # prompt w words, answer w + 2: 500_000 w + 1_000_000 (w + 2) nanos
    assert sorted(r.price_nanos for r in rows) == [6_500_000, 9_500_000, 14_000_000]
    assert all(r.status == "ok" and r.endpoint == "chat.completions" for r in rows)
    (model,) = [r for r in usage["rows"] if r["group"] == "fake-chat"]
    assert model["requests"] >= 3 and model["revenue_nanos"] >= 30_000_000
    assert invoice["org_id"] == org["id"] and invoice["status"] == "draft"
    assert invoice["total_cents"] == sum(line["amount_cents"] for line in invoice["lines"])
    usage_line = [line for line in invoice["lines"] if line["kind"] == "usage"]
    assert usage_line[0]["amount"] == "0.03" and usage_line[0]["quantity"] == "38"
    assert csv.splitlines()[-1].endswith(f",total,,,{invoice['total']}")


async def test_a_repeated_x_request_id_is_still_charged(tmp_path):
    async with acme(tmp_path) as (business, org, key), business.client(key) as client:
        for _ in range(2):
            response = await client.post(
                "/v1/chat/completions", json=chat(3), headers={"X-Request-Id": "my-retry-1"}
            )
            assert response.status_code == 200
        row = business.platform.infra.db.run(counter, org["id"])
    assert row.charged_nanos == 2 * (3 * 10_000 + 5 * 20_000)


@needs_postgres
async def test_a_long_x_request_id_is_served_on_postgresql(tmp_path):
    url = database_url("postgresql", tmp_path)
    async with running(business_settings(tmp_path, database_url=url)) as business:
        await business.plan("pro", prices=PRICES)
        org = await business.org("acme", plan="pro", spend_limit="1")
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        async with business.client(key) as client:
            response = await client.post(
                "/v1/chat/completions", json=chat(3), headers={"X-Request-Id": "r" * 64}
            )
        assert response.status_code == 200
        assert business.platform.infra.db.run(counter, org["id"]).reserved_nanos == 0


async def test_a_plan_is_priced_from_its_first_request(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        async with business.client(business.admin_key) as client:  # prices loaded now
            assert (await client.post("/v1/chat/completions", json=chat(1))).status_code == 200
        # hold the poll still, as if the next request came within its 0.5 s
        await business.platform.chores.close()
        await business.plan("pro", prices=PRICES)
        org = await business.org("acme", plan="pro")
        key = (await business.key("acme"))["key"]
        async with business.client(key) as client:
            assert (await client.post("/v1/chat/completions", json=chat(3))).status_code == 200
        (row,) = business.platform.infra.db.run(ledger_rows, org["id"])
    assert row.price_nanos == 3 * 10_000 + 5 * 20_000


async def test_a_stream_cut_off_is_billed_for_what_it_produced(tmp_path):
    """100 words of answer at 50 ms a word: the client leaves after a few of them."""
    settings = business_settings(tmp_path)
    app = create_app(settings, pool=fake_pool(token_delay=0.05))
    platform = app.state.modelmint.platform
    with running_server(app) as url:
        made = platform.infra.db.run(admin.init_admin, platform.infra.secret)
        admin_headers = {"Authorization": f"Bearer {made['key']}"}
        async with httpx.AsyncClient(base_url=url, headers=admin_headers, timeout=30) as http:
            plan = {"name": "pro", "prices": PRICES}
            assert (await http.post("/admin/plans", json=plan)).status_code == 201
            body = {"name": "acme", "plan": "pro", "spend_limit": "1"}
            org = (await http.post("/admin/orgs", json=body)).json()
            key = (await http.post("/admin/keys", json={"org": "acme"})).json()["key"]
        await caught_up(platform)  # the new plan's prices are known from here on
        received = await _read_a_few_chunks(url, key, chat(98, 100, stream=True), chunks=5)
        rows = []

        def settled() -> bool:
            rows[:] = platform.infra.db.run(ledger_rows, org["id"])
            return bool(rows)

        await until(settled, timeout=3.0, every=0.1)
        (row,) = rows
        assert row.status == "cancelled"
        assert received <= row.completion_tokens < 100
        assert row.prompt_tokens == 98 and row.price_nanos > 0
        spent = platform.infra.db.run(counter, org["id"])
        assert spent.charged_nanos == row.price_nanos
        assert (spent.reserved_nanos, spent.reserved_tokens) == (0, 0)


async def _read_a_few_chunks(url: str, key: str, body: dict, chunks: int) -> int:
    """Stream a chat, close the connection after `chunks` words; the words received."""
    words = 0
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"]
                words += len(delta.get("content", "").split())
                if words >= chunks:
                    break
    return words


async def test_only_the_admin_org_may_hold_admin_keys(tmp_path):
    async with acme(tmp_path) as (business, org, key):
        body = {"org": "acme", "scopes": ["inference", "admin"]}
        response = await business.http.post("/admin/keys", json=body)
    assert response.status_code == 400
    assert "admin" in response.json()["error"]["message"]


def context(account, request_id: str):
    """A chat request's context, for tests that admit and settle without HTTP."""
    from modelmint.services.context import Endpoint, RequestContext

    return RequestContext(account, request_id, Endpoint.CHAT, "default")


def database_away(monkeypatch, platform, at, *, delay: float = 0.0, fails: bool = True):
    """The database's writes of `at` (a ledger function) wait `delay` seconds, then fail as
    a database that does not answer does (or go through, with fails=False). Returns what
    brings the database back."""
    real_write = platform.infra.db.write

    async def write(fn, *args):
        if fn is at:
            if delay:
                await asyncio.sleep(delay)
            if fails:
                raise OperationalError("statement", {}, ConnectionError("the database is away"))
        return await real_write(fn, *args)

    monkeypatch.setattr(platform.infra.db, "write", write)
    return lambda: monkeypatch.setattr(platform.infra.db, "write", real_write)


async def test_a_request_settled_while_the_database_is_away_is_kept_and_written_later(
    tmp_path, monkeypatch
):
    async with acme(tmp_path, token_limit=1000) as (business, org, key):
        platform = business.platform
        database_back = database_away(monkeypatch, platform, ledger.settle)
        async with business.client(key) as client:
            answer = await client.post("/v1/chat/completions", json=chat(3, 5))
            assert answer.status_code == 200, answer.text  # served, and not lost
            streamed = await client.post("/v1/chat/completions", json=chat(3, 5, stream=True))
            assert "[DONE]" in streamed.text
        assert len(platform.metering.settlements.spool) == 2
        assert platform.infra.db.run(ledger_rows, org["id"]) == []
        row = platform.infra.db.run(counter, org["id"])
        assert row.reserved_tokens == 2 * 8  # both holds still stand

        database_back()
        assert await platform.metering.settlements.replay() == 2
        assert len(platform.metering.settlements.spool) == 0
        rows = platform.infra.db.run(ledger_rows, org["id"])
        assert sorted(r.request_id for r in rows) == sorted(
            [answer.headers["x-request-id"], streamed.headers["x-request-id"]]
        )
        row = platform.infra.db.run(counter, org["id"])
        assert (row.tokens, row.reserved_tokens, row.reserved_nanos) == (2 * 8, 0, 0)


async def test_a_database_that_does_not_answer_at_admission_is_a_503_and_charges_nothing(
    tmp_path, monkeypatch
):
    async with acme(tmp_path, token_limit=1000) as (business, org, key):
        platform = business.platform
        database_back = database_away(monkeypatch, platform, ledger.hold)
        async with business.client(key) as client:
            response = await client.post("/v1/chat/completions", json=chat(3, 5))
            error = assert_openai_error(response, 503, "server_error")
            assert error["code"] == "service_unavailable"
            assert "usage database is unavailable" in error["message"]
            assert response.headers["retry-after"] == "5"
            database_back()
            # the slot it took was given back: the org is not stuck at its cap
            assert (await client.post("/v1/chat/completions", json=chat(3, 5))).status_code == 200
        row = platform.infra.db.run(counter, org["id"])
        assert (row.tokens, row.reserved_tokens) == (8, 0)


async def test_a_redis_that_does_not_answer_is_a_503(tmp_path):
    # nothing listens on port 1: every Redis call fails to connect
    settings = business_settings(tmp_path, redis_url="redis://127.0.0.1:1/0")
    async with running(settings) as business:
        await business.plan("pro", prices=PRICES, rpm=100, tpm=100_000)
        await business.org("acme", plan="pro")
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        async with business.client(key) as client:
            response = await client.post("/v1/chat/completions", json=chat(3, 5))
    error = assert_openai_error(response, 503, "server_error")
    assert "rate-limit store (Redis) is unavailable" in error["message"]


async def test_a_settle_whose_caller_is_cancelled_is_still_kept(tmp_path, monkeypatch):
    from modelmint.core.types import Usage
    from modelmint.services.context import Estimate, Used

    async with acme(tmp_path, token_limit=1000) as (business, org, key):
        platform = business.platform
        account = await platform.auth.authenticate(f"Bearer {key}")
        ticket = await platform.metering.admit(context(account, "req_cut"), Estimate(3, 5))
        database_away(monkeypatch, platform, ledger.settle, delay=0.2)

        async def work_then_settle() -> None:
            async with platform.metering.metered(ticket, lambda: Used(Usage(3, 5))):
                pass

        settling = asyncio.ensure_future(work_then_settle())
        await asyncio.sleep(0.05)
        settling.cancel()  # the client went away while the row was being written
        await until(lambda: len(platform.metering.settlements.spool) == 1)
        await asyncio.sleep(0.2)
        assert len(platform.metering.settlements.spool) == 1  # kept once, not twice


async def test_an_admission_cancelled_while_holding_gives_the_hold_back(tmp_path, monkeypatch):
    from modelmint.services.context import Estimate

    async with acme(tmp_path, token_limit=1000) as (business, org, key):
        platform = business.platform
        real_write = platform.infra.db.write
        hold_started, hold_written = asyncio.Event(), asyncio.Event()

        async def slow_hold(fn, *args):
            if fn is not ledger.hold:
                return await real_write(fn, *args)
            hold_started.set()
            await asyncio.sleep(0.2)
            try:
                return await real_write(fn, *args)
            finally:
                hold_written.set()

        monkeypatch.setattr(platform.infra.db, "write", slow_hold)
        account = await platform.auth.authenticate(f"Bearer {key}")
        admitting = asyncio.ensure_future(
            platform.metering.admit(context(account, "req_gone"), Estimate(3, 5))
        )
        await asyncio.wait_for(hold_started.wait(), timeout=10)
        admitting.cancel()  # the client gave up while the hold was being written
        await asyncio.wait_for(hold_written.wait(), timeout=10)

        def given_back():
            row = platform.infra.db.run(counter, org["id"])
            return (row.reserved_tokens, row.reserved_nanos) == (0, 0)

        await until(given_back)  # the give-back is written in the background
        assert platform.infra.db.run(lambda c: c.execute(select(budget_holds)).all()) == []


async def test_a_503_at_admission_gives_the_rate_limit_tokens_back(tmp_path, monkeypatch):
    # 1000 tokens a minute refill ~17 a second: too slowly to hide 24 tokens not given back
    async with acme(tmp_path, {"tpm": 1000}, token_limit=1000) as (business, org, key):
        database_back = database_away(monkeypatch, business.platform, ledger.hold)
        async with business.client(key) as client:
            for _ in range(3):
                refused = await client.post("/v1/chat/completions", json=chat(3, 5))
                assert refused.status_code == 503
            database_back()
            await asyncio.sleep(0.05)  # the give-backs run in the background
            served = await client.post("/v1/chat/completions", json=chat(3, 5))
    limit = int(served.headers["x-ratelimit-limit-tokens"])
    # only this request's 8 tokens are taken, not also the three refused ones' 24
    assert int(served.headers["x-ratelimit-remaining-tokens"]) >= limit - 8 - 4
