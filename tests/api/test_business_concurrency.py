"""Limits under concurrency: a budget that 200 parallel requests cannot overshoot (SQLite and
PostgreSQL), one RPM limit enforced by two replicas through Redis, and the org's cap on
requests running at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select

from modelmint.billing.money import tokens_price, usd_to_nanos
from modelmint.store.tables import usage_ledger
from tests.business_helpers import (
    REDIS_URL,
    business_settings,
    chat,
    counter,
    database_url,
    flush_redis,
    needs_postgres,
    needs_redis,
    running,
)
from tests.helpers import fake_pool

# The fake engine answers "You said: <the prompt's words>", so with max_tokens = words + 2
# every answer uses its whole max_tokens and costs exactly its worst case (the hold).
WORDS, MAX_TOKENS = 24, 26
INPUT, OUTPUT = "10", "10"  # USD per million tokens
HOLD = tokens_price(WORDS, usd_to_nanos(INPUT)) + tokens_price(MAX_TOKENS, usd_to_nanos(OUTPUT))
SPEND_LIMIT = "0.01"  # USD a month
AFFORDABLE = usd_to_nanos(SPEND_LIMIT) // HOLD


def test_the_budget_allows_twenty_requests():
    assert (HOLD, AFFORDABLE) == (500_000, 20)


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("postgresql", marks=needs_postgres)],
)
async def test_parallel_requests_never_overshoot_the_budget(backend, tmp_path):
    settings = business_settings(tmp_path, database_url=database_url(backend, tmp_path))
    pool = fake_pool(parallel=64, max_queue=256)
    async with running(settings, pool) as business:
        prices = {"*": {"input": INPUT, "output": OUTPUT}}
        limits = {"rpm": 10_000, "tpm": 10_000_000, "max_concurrent": 1000}
        await business.plan("metered", included_tokens=0, prices=prices, **limits)
        org = await business.org("acme", plan="metered", spend_limit=SPEND_LIMIT)
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        async with business.client(key) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=chat(WORDS, MAX_TOKENS))
                    for _ in range(200)
                )
            )
        db = business.platform.infra.db
        spent = db.run(
            lambda c: c.execute(
                select(func.count(), func.coalesce(func.sum(usage_ledger.c.price_nanos), 0))
            ).one()
        )
        totals = db.run(counter, org["id"])
    statuses = Counter(r.status_code for r in responses)
    # every hold is the same size and every answer costs what it held, so exactly as many
    # requests as the budget has holds for get through, however they interleave
    assert statuses == {200: AFFORDABLE, 429: 200 - AFFORDABLE}
    for response in responses:
        if response.status_code == 429:
            error = response.json()["error"]
            assert error["type"] == "insufficient_quota", error
            assert "organization's monthly spend limit of $0.01" in error["message"]
    assert tuple(spent) == (AFFORDABLE, AFFORDABLE * HOLD)
    assert spent[1] <= usd_to_nanos(SPEND_LIMIT)
    assert totals.charged_nanos == spent[1]
    assert (totals.reserved_nanos, totals.reserved_tokens) == (0, 0)


@needs_redis
async def test_two_replicas_share_one_rpm_limit_through_redis(tmp_path):
    flush_redis(REDIS_URL)
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    first = business_settings(tmp_path / "a", database_url=shared, redis_url=REDIS_URL)
    second = business_settings(tmp_path / "b", database_url=shared, redis_url=REDIS_URL)
    async with running(first) as one, running(second) as two:
        await one.plan("ten", rpm=10)
        await one.org("acme", plan="ten")
        key = (await one.key("acme"))["key"]  # made on one replica, checked on both
        await one.caught_up()
        await two.caught_up()
        async with one.client(key) as a, two.client(key) as b:
            responses = [
                await (a if i % 2 == 0 else b).post("/v1/chat/completions", json=chat(3, 5))
                for i in range(30)
            ]
    ok = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert ok == list(range(10)), [r.status_code for r in responses]
    for response in responses[10:]:
        assert response.status_code == 429
        error = response.json()["error"]
        assert error["code"] == "rate_limit_exceeded" and "requests per minute" in error["message"]
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["x-ratelimit-remaining-requests"] == "0"


async def test_max_concurrent_holds_for_an_org_with_a_budget(tmp_path):
    pool = fake_pool(token_delay=0.05, parallel=16, max_queue=16)
    async with running(business_settings(tmp_path), pool) as business:
        await business.plan("two-at-once", max_concurrent=2)
        await business.org("acme", plan="two-at-once", spend_limit="100")
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        async with business.client(key) as client:
            # each answer takes 12 words x 50 ms: all ten arrive while the first run
            responses = await asyncio.gather(
                *(client.post("/v1/chat/completions", json=chat(10, 12)) for _ in range(10))
            )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[200] <= 2, statuses


@needs_redis
async def test_two_replicas_share_one_concurrency_cap_through_redis(tmp_path):
    flush_redis(REDIS_URL)
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    pools = [fake_pool(token_delay=0.05, parallel=8, max_queue=8) for _ in range(2)]
    first = business_settings(tmp_path / "a", database_url=shared, redis_url=REDIS_URL)
    second = business_settings(tmp_path / "b", database_url=shared, redis_url=REDIS_URL)
    async with running(first, pools[0]) as one, running(second, pools[1]) as two:
        await one.plan("two-at-once", max_concurrent=2)
        await one.org("acme", plan="two-at-once")
        key = (await one.key("acme"))["key"]
        await one.caught_up()
        await two.caught_up()
        async with one.client(key) as a, two.client(key) as b:
            # three on each replica at once, each answer ~0.6 s: two may run, not four
            responses = await asyncio.gather(
                *(c.post("/v1/chat/completions", json=chat(10, 12)) for c in (a, b, a, b, a, b))
            )
            statuses = Counter(r.status_code for r in responses)
            assert statuses == {200: 2, 429: 4}, statuses
            refused = next(r for r in responses if r.status_code == 429)
            assert "already has 2 requests running" in refused.json()["error"]["message"]
            # the leases are free again once those finished, on either replica
            assert (await b.post("/v1/chat/completions", json=chat(3, 5))).status_code == 200
            assert (await a.post("/v1/chat/completions", json=chat(3, 5))).status_code == 200


@asynccontextmanager
async def two_replicas_leases(lease_seconds: float = 0.6):
    """Two replicas' concurrency leases on a flushed Redis, closed afterwards."""
    from modelmint.billing.concurrency import RedisLeases

    flush_redis(REDIS_URL)
    replicas = (
        RedisLeases(REDIS_URL, lease_seconds=lease_seconds),
        RedisLeases(REDIS_URL, lease_seconds=lease_seconds),
    )
    try:
        yield replicas
    finally:
        for leases in replicas:
            await leases.close()


# a replica that takes a lease and is killed before it can renew or give it back
DEAD_REPLICA = """
import asyncio, os, sys
from modelmint.billing.concurrency import RedisLeases

async def main():
    leases = RedisLeases(sys.argv[1], lease_seconds=0.6)
    assert await leases.enter("org_a", "req_1", 1)
    os._exit(0)

asyncio.run(main())
"""


@needs_redis
async def test_a_dead_replicas_leases_come_back_when_its_leases_lapse():
    async with two_replicas_leases() as (alive, other):
        subprocess.run([sys.executable, "-c", DEAD_REPLICA, REDIS_URL], check=True, timeout=30)
        assert not await alive.enter("org_a", "req_2", 1)
        await asyncio.sleep(0.8)
        assert await alive.enter("org_a", "req_2", 1)
        # a live replica's lease outlasts the lease time, because it is renewed
        await asyncio.sleep(1.0)
        assert not await other.enter("org_a", "req_3", 1)
        alive.leave("org_a", "req_2")
        await asyncio.sleep(0.05)
        assert await other.enter("org_a", "req_3", 1)


@needs_redis
async def test_a_lease_lost_in_redis_is_put_back_while_its_request_runs():
    async with two_replicas_leases() as (here, there):
        assert await here.enter("org_a", "req_1", 1)
        flush_redis(REDIS_URL)  # Redis restarted without persistence: the lease is gone
        await asyncio.sleep(0.4)  # a renewal round has run since
        assert not await there.enter("org_a", "req_2", 1)  # req_1 still counts
        here.leave("org_a", "req_1")
        await asyncio.sleep(0.05)
        assert await there.enter("org_a", "req_2", 1)
