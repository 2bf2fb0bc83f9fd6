"""Token buckets in process, on a fake clock: refill, all-or-nothing, give-back, reset text;
and the same arithmetic in Redis when CI provides one."""

from __future__ import annotations

import pytest

from modelmint.billing.ratelimit import Bucket, InProcessLimiter, format_reset
from tests.business_helpers import REDIS_URL, flush_redis, needs_redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock) -> InProcessLimiter:
    return InProcessLimiter(clock=clock)


async def test_a_bucket_starts_full_and_empties(limiter):
    rpm = Bucket("rpm", "org_a", 3, 1)
    states = [(await limiter.take([rpm])) for _ in range(4)]
    assert [d.allowed for d in states] == [True, True, True, False]
    assert [d.states[0].remaining for d in states[:3]] == [2, 1, 0]
    refused = states[3]
    assert refused.blocked == rpm
    assert refused.retry_after == pytest.approx(20.0)  # one request back at 3 per minute


async def test_refill_is_linear_and_capped(limiter, clock):
    rpm = Bucket("rpm", "org_a", 60, 60)
    assert (await limiter.take([rpm])).allowed
    clock.now += 10  # one per second
    assert not (await limiter.take([Bucket("rpm", "org_a", 60, 11)])).allowed
    decision = await limiter.take([Bucket("rpm", "org_a", 60, 10)])
    assert decision.allowed and decision.states[0].remaining == 0
    clock.now += 3600  # never more than full
    decision = await limiter.take([Bucket("rpm", "org_a", 60, 1)])
    assert decision.states[0].remaining == 59
    assert decision.states[0].reset_seconds == pytest.approx(1.0)


async def test_take_is_all_or_nothing_across_buckets(limiter):
    org = Bucket("tpm", "org_a", 100, 60)
    key = Bucket("tpm", "key_a", 50, 60)  # too much for the key's bucket
    refused = await limiter.take([org, key])
    assert not refused.allowed and refused.blocked == key
    # the org's bucket was not touched by the refused request
    allowed = await limiter.take([Bucket("tpm", "org_a", 100, 100)])
    assert allowed.allowed and allowed.states[0].remaining == 0


async def test_a_request_bigger_than_the_limit_waits_for_a_full_bucket(limiter):
    decision = await limiter.take([Bucket("tpm", "org_a", 100, 500)])
    assert not decision.allowed
    assert decision.retry_after == pytest.approx(0.0)  # full already: it can never pass


async def test_give_back_is_capped_at_the_limit(limiter, clock):
    tpm = Bucket("tpm", "org_a", 100, 80)
    await limiter.take([tpm])
    await limiter.give_back(tpm, 50)
    assert (await limiter.take([Bucket("tpm", "org_a", 100, 0)])).states[0].remaining == 70
    await limiter.give_back(tpm, 1000)
    assert (await limiter.take([Bucket("tpm", "org_a", 100, 0)])).states[0].remaining == 100
    await limiter.give_back(tpm, 0)
    await limiter.give_back(tpm, -5)
    assert (await limiter.take([Bucket("tpm", "org_a", 100, 0)])).states[0].remaining == 100


async def test_buckets_are_independent_by_key(limiter):
    assert (await limiter.take([Bucket("rpm", "org_a", 1, 1)])).allowed
    assert (await limiter.take([Bucket("rpm", "org_b", 1, 1)])).allowed
    assert not (await limiter.take([Bucket("rpm", "org_a", 1, 1)])).allowed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0ms"),
        (0.12, "120ms"),
        (0.9994, "999ms"),
        (1, "1s"),
        (1.2, "2s"),
        (59.5, "1m0s"),
        (360, "6m0s"),
        (61, "1m1s"),
        (-3, "0ms"),
    ],
)
def test_format_reset(seconds, text):
    assert format_reset(seconds) == text


@needs_redis
async def test_redis_buckets_match_the_in_process_ones():
    from modelmint.billing.redis_limits import RedisLimiter

    flush_redis(REDIS_URL)
    limiter = RedisLimiter(REDIS_URL, prefix="modelmint-test:rl:")
    try:
        org, key = Bucket("tpm", "org_r", 100, 60), Bucket("tpm", "key_r", 50, 60)
        refused = await limiter.take([org, key])
        assert not refused.allowed and refused.blocked == key
        decision = await limiter.take([Bucket("tpm", "org_r", 100, 60)])
        assert decision.allowed and decision.states[0].remaining == 40
        assert not (await limiter.take([Bucket("tpm", "org_r", 100, 60)])).allowed
        await limiter.give_back(org, 1000)
        assert (await limiter.take([Bucket("tpm", "org_r", 100, 100)])).allowed
    finally:
        await limiter.close()
