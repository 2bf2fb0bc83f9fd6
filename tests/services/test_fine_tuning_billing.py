"""A fine-tuning job's money: held at the plan's fine-tuning price for the worst case,
billed once for what it trained (included tokens are for serving), a cancelled job for
what it trained, and an earlier attempt's hold given back when another worker resumes."""

from __future__ import annotations

from modelmint.core.types import Usage
from modelmint.services.context import Endpoint, Estimate, RequestContext, Status, Used


def job_context(account, job_id: str) -> RequestContext:
    return RequestContext(account, job_id, Endpoint.FINE_TUNING, "fake-chat")


async def test_a_job_is_held_then_billed_once_at_the_fine_tuning_price(world):
    account = await world.account(plan={"included_tokens": 1_000_000}, spend_limit="10")
    metering = world.platform.metering
    ticket = await metering.admit_job(job_context(account, "ftjob-1"), Estimate(10_000))
    assert world.counter(account.org.id).reserved_nanos == 30_000_000  # 10k tokens at $3/M
    await metering.settle_job(ticket, Used(Usage(4_000, 0), 12.5), Status.OK)
    (row,) = world.rows("ftjob-1")
    assert (row.endpoint, row.status, row.prompt_tokens) == ("fine_tuning", "ok", 4_000)
    assert row.price_nanos == 12_000_000 and row.compute_seconds == 12.5 and row.cost_nanos > 0
    counter = world.counter(account.org.id)
    assert (counter.reserved_nanos, counter.charged_nanos) == (0, 12_000_000)


async def test_a_cancelled_job_is_billed_for_what_it_trained(world):
    account = await world.account(spend_limit="10")
    metering = world.platform.metering
    ticket = await metering.admit_job(job_context(account, "ftjob-2"), Estimate(10_000))
    await metering.settle_job(ticket, Used(Usage(1_000, 0), 1.0), Status.CANCELLED)
    await world.drained()
    (row,) = world.rows("ftjob-2")
    assert (row.status, row.prompt_tokens, row.price_nanos) == ("cancelled", 1_000, 3_000_000)


async def test_a_resumed_job_gives_back_the_hold_of_the_attempt_that_died(world):
    account = await world.account(spend_limit="10")
    metering = world.platform.metering
    await metering.admit_job(job_context(account, "ftjob-3"), Estimate(10_000))  # then died
    ticket = await metering.admit_job(job_context(account, "ftjob-3"), Estimate(10_000))
    assert world.counter(account.org.id).reserved_nanos == 30_000_000  # one hold, not two
    await metering.settle_job(ticket, Used(Usage(10_000, 0), 2.0), Status.OK)
    assert world.counter(account.org.id).reserved_nanos == 0
