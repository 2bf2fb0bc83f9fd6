"""Admission and settling on their own: `Metering.admit` grants or refuses with a reason
that names the limit, and `Metering.metered` settles each ticket exactly once, whether the
work ends well, fails, is cancelled or is abandoned by a client that disconnects."""

from __future__ import annotations

import asyncio

import pytest

from modelmint.core.errors import RateLimitError
from modelmint.core.types import Usage
from modelmint.services.context import Estimate, Status, Used
from modelmint.services.limits import QuotaExceededError
from tests.services.conftest import context

USED = Used(Usage(3, 5), compute_seconds=0.5)


async def test_admission_holds_the_worst_case_and_says_the_limits(world):
    account = await world.account(plan={"rpm": 10, "tpm": 1000}, token_limit=500)
    ticket = await world.platform.metering.admit(context(account, "req_a"), Estimate(30, 70))
    assert ticket.worst == Estimate(30, 70) and ticket.request_id == "req_a"
    assert ticket.hold is not None and ticket.hold.tokens == 100
    assert ticket.hold.nanos == 30 * 10 + 70 * 20  # 0.01 and 0.02 USD per million tokens
    assert ticket.headers["x-ratelimit-limit-requests"] == "10"
    assert ticket.headers["x-ratelimit-remaining-tokens"] == "900"
    assert world.counter(account.org.id).reserved_tokens == 100


@pytest.mark.parametrize(
    ("plan", "org", "estimate", "error", "says"),
    [
        ({"tpm": 50}, {}, Estimate(40, 20), RateLimitError, "needs up to 60 tokens"),
        ({}, {"token_limit": 50}, Estimate(40, 20), QuotaExceededError, "60 tokens"),
        ({}, {"spend_limit": "0.0000001"}, Estimate(40, 20), QuotaExceededError, "USD"),
    ],
)
async def test_refusals_name_the_limit_and_hold_nothing(world, plan, org, estimate, error, says):
    account = await world.account(plan=plan, **org)
    with pytest.raises(error, match=says) as refused:
        await world.platform.metering.admit(context(account, "req_no"), estimate)
    assert refused.value.status == 429
    counter = world.counter(account.org.id)
    assert counter is None or (counter.reserved_tokens, counter.reserved_nanos) == (0, 0)


async def test_the_requests_per_minute_and_the_concurrency_cap(world):
    metering = world.platform.metering
    account = await world.account(plan={"rpm": 2, "max_concurrent": 1})
    first = await metering.admit(context(account, "req_1"), Estimate(1, 1))
    with pytest.raises(RateLimitError, match="already has 1 requests running"):
        await metering.admit(context(account, "req_2"), Estimate(1, 1))
    async with metering.metered(first, lambda: USED):
        pass
    with pytest.raises(RateLimitError, match="requests per minute") as refused:
        await metering.admit(context(account, "req_3"), Estimate(1, 1))
    assert int(refused.value.headers["Retry-After"]) >= 1


async def ended(world, ending: str, account) -> str:
    """Run one admitted piece of work that ends as `ending`; its request id."""
    metering = world.platform.metering
    request_id = f"req_{ending}"
    ticket = await metering.admit(context(account, request_id), Estimate(10, 10))

    async def work():
        async with metering.metered(ticket, lambda: USED):
            if ending == "error":
                raise ValueError("the engine broke")
            if ending == "cancel":
                await asyncio.sleep(10)
            yield "chunk"
            if ending == "disconnect":
                yield "never read"

    stream = work()
    if ending == "ok":
        assert [chunk async for chunk in stream] == ["chunk"]
    elif ending == "error":
        with pytest.raises(ValueError):
            await anext(stream)
    elif ending == "cancel":  # the request's task is cancelled (shutdown, a timeout)
        task = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:  # the response closes the stream its client left after the first chunk
        assert await anext(stream) == "chunk"
        await stream.aclose()
    await world.drained()
    return request_id


@pytest.mark.parametrize(
    ("ending", "status"),
    [("ok", Status.OK), ("error", Status.ERROR), ("cancel", Status.CANCELLED),
     ("disconnect", Status.CANCELLED)],
)  # fmt: skip
async def test_every_ending_settles_exactly_once(world, ending, status, monkeypatch):
    metering = world.platform.metering
    settled: list[Status] = []
    settle = metering.settle

    async def counted(ticket, used, how):
        settled.append(how)
        await settle(ticket, used, how)

    monkeypatch.setattr(metering, "settle", counted)
    account = await world.account(token_limit=10_000)
    request_id = await ended(world, ending, account)
    assert settled == [status]
    (row,) = world.rows(request_id)
    assert (row.status, row.prompt_tokens, row.completion_tokens) == (status, 3, 5)
    counter = world.counter(account.org.id)
    assert counter.tokens == 8  # charged once, the unused part of the hold given back
    assert (counter.reserved_tokens, counter.reserved_nanos) == (0, 0)
    assert world.platform.metering.settlements.renewing == 0


async def test_work_that_used_nothing_and_failed_is_not_billed(world):
    metering = world.platform.metering
    account = await world.account(token_limit=10_000)
    ticket = await metering.admit(context(account, "req_nothing"), Estimate(10, 10))
    with pytest.raises(ValueError):
        async with metering.metered(ticket, lambda: Used()):
            raise ValueError("refused before any work")
    await world.drained()
    assert world.rows("req_nothing") == []
    counter = world.counter(account.org.id)
    assert (counter.tokens, counter.reserved_tokens) == (0, 0)
