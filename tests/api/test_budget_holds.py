"""Budget holds live as long as their request: a request running past the hold timeout
keeps its hold (renewed), so a second request cannot be admitted against the same budget;
a hold whose request is gone still expires and is swept."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from modelmint.store.tables import budget_holds
from tests.business_helpers import (
    BACKENDS,
    business_settings,
    chat,
    counter,
    database_url,
    ledger_rows,
    running,
)
from tests.helpers import fake_pool

PRICES = {"*": {"input": "10", "output": "20"}}
# "You said:" and 60 words at 50 ms a token: about 3 s, twice the hold timeout
SLOW = chat(60, 62)
WORST = 60 + 62


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_request_running_past_the_hold_timeout_keeps_its_hold(backend, tmp_path):
    settings = business_settings(
        tmp_path,
        database_url=database_url(backend, tmp_path),
        hold_timeout_seconds=1.5,
        hold_sweep_interval_seconds=0.2,
    )
    async with running(settings, fake_pool(token_delay=0.05)) as business:
        await business.plan("pro", prices=PRICES, rpm=100, tpm=100_000)
        # room for one slow request's worst case, not two
        org = await business.org("acme", plan="pro", token_limit=WORST + WORST // 2)
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        async with business.client(key) as client:
            first = asyncio.create_task(client.post("/v1/chat/completions", json=SLOW))
            await asyncio.sleep(2.2)  # past the timeout and several sweeps
            assert not first.done()
            holds = business.platform.infra.db.run(lambda c: c.execute(select(budget_holds)).all())
            assert len(holds) == 1, "the running request's hold was swept"
            second = await client.post("/v1/chat/completions", json=SLOW)
            assert second.status_code == 429, second.text
            assert second.json()["error"]["type"] == "insufficient_quota"
            assert (await first).status_code == 200
        rows = business.platform.infra.db.run(ledger_rows, org["id"])
        assert [row.status for row in rows] == ["ok"]
        row = business.platform.infra.db.run(counter, org["id"])
        assert row.tokens <= WORST + WORST // 2
        assert (row.reserved_tokens, row.reserved_nanos) == (0, 0)


async def test_the_hold_of_a_request_that_is_gone_is_still_swept(tmp_path):
    from modelmint.services.context import Endpoint, Estimate, RequestContext

    settings = business_settings(
        tmp_path, hold_timeout_seconds=0.6, hold_sweep_interval_seconds=0.1
    )
    async with running(settings) as business:
        await business.plan("pro", prices=PRICES, rpm=100, tpm=100_000)
        org = await business.org("acme", plan="pro", token_limit=1000)
        key = (await business.key("acme"))["key"]
        await business.caught_up()
        platform = business.platform
        account = await platform.auth.authenticate(f"Bearer {key}")
        lost = RequestContext(account, "req_lost", Endpoint.CHAT, "default")
        await platform.metering.admit(lost, Estimate(3, 5))
        # the replica "dies" for this request: nobody settles or renews it any more
        platform.metering.settlements.untrack("req_lost")
        await asyncio.sleep(1.2)
        row = platform.infra.db.run(counter, org["id"])
        assert (row.reserved_tokens, row.reserved_nanos) == (0, 0)
