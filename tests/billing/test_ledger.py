"""Budget holds and the ledger, on a migrated SQLite file (PostgreSQL too when CI has it):
a hold reserves or refuses whole, settle moves the reservation into spent once per request,
and included tokens are used before anything is priced."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from modelmint.billing import ledger
from modelmint.billing.prices import Price
from modelmint.store.tables import budget_holds
from tests.business_helpers import counter, ledger_rows

MONTH = "2026-11"
ORG = ledger.Limit("org_a", "organization", spend_limit_nanos=1_000_000, token_limit=None)
PRICE = Price(input_nanos_per_mtok=1_000_000_000, output_nanos_per_mtok=2_000_000_000)


def entry(request_id: str = "req_1", prompt: int = 100, completion: int = 50, **changes):
    base = ledger.LedgerEntry(
        request_id=request_id,
        created_at=datetime(2026, 11, 20, 12, 0),
        month=MONTH,
        org_id="org_a",
        key_id="key_a",
        model="fake-chat",
        endpoint="chat.completions",
        status="ok",
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_ms=12.5,
        ttft_ms=3.0,
        compute_seconds=0.01,
        cost_nanos=7,
        price=PRICE,
        included_tokens=0,
        key_counted=False,
    )
    return replace(base, **changes)


def wanted(nanos: int, tokens: int, request_id: str = "req_1", expires_at=None) -> ledger.Hold:
    return ledger.Hold(request_id, MONTH, nanos, tokens, expires_at or datetime(2026, 11, 20, 13))


def state(db, scope_id: str = "org_a") -> tuple[int, int, int, int]:
    row = db.run(counter, scope_id)
    return (row.tokens, row.charged_nanos, row.reserved_tokens, row.reserved_nanos)


def test_hold_then_settle_moves_reserved_to_charged(db):
    held = db.run(ledger.hold, wanted(400_000, 300), [ORG])
    assert isinstance(held, ledger.Hold) and held.scopes == ["org_a"]
    assert state(db) == (0, 0, 300, 400_000)
    price = db.run(ledger.settle, entry(), held)
    assert price == 100 * 1000 + 50 * 2000  # 1000 nanos per input token, 2000 per output
    assert state(db) == (150, 200_000, 0, 0)
    (row,) = db.run(ledger_rows)
    assert (row.request_id, row.price_nanos, row.status, row.cost_nanos) == (
        "req_1",
        200_000,
        "ok",
        7,
    )


def test_settle_twice_with_the_same_request_id_charges_once(db):
    held = db.run(ledger.hold, wanted(400_000, 300), [ORG])
    assert db.run(ledger.settle, entry(), held) == 200_000
    assert db.run(ledger.settle, entry(), None) is None
    assert state(db) == (150, 200_000, 0, 0)
    assert len(db.run(ledger_rows)) == 1


def test_settling_a_repeat_with_its_hold_does_not_release_it_twice(db):
    held = db.run(ledger.hold, wanted(400_000, 300), [ORG])
    db.run(ledger.settle, entry(), held)
    db.run(ledger.settle, entry(), held)
    assert state(db) == (150, 200_000, 0, 0)


def test_included_tokens_are_used_first():
    plan_entry = entry(included_tokens=120)
    # 120 free tokens: all 100 prompt tokens and 20 of the 50 completion tokens
    assert ledger.charge(plan_entry, tokens_before=0) == 30 * 2000
    # 100 already used this month: 20 free, all from the prompt
    assert ledger.charge(plan_entry, tokens_before=100) == 80 * 1000 + 50 * 2000
    assert ledger.charge(plan_entry, tokens_before=10**6) == 200_000


def test_settle_counts_the_months_tokens_against_the_included_ones(db):
    assert db.run(ledger.settle, entry("req_1", included_tokens=200), None) == 0
    assert db.run(ledger.settle, entry("req_2", included_tokens=200), None) == 50 * 1000 + 50 * 2000
    assert state(db) == (300, 150_000, 0, 0)


def test_hold_refuses_past_the_limit_and_holds_nothing(db):
    key = ledger.Limit("key_a", "API key", spend_limit_nanos=None, token_limit=500)
    first = db.run(ledger.hold, wanted(600_000, 400), [ORG, key])
    assert isinstance(first, ledger.Hold)
    # the org has room for 400_000 more, the key for 100 more tokens: the key refuses
    refused = db.run(ledger.hold, wanted(300_000, 200), [ORG, key])
    assert refused == key
    assert state(db, "org_a") == (0, 0, 400, 600_000)  # the org's part was given back
    assert state(db, "key_a") == (0, 0, 400, 600_000)
    refused = db.run(ledger.hold, wanted(400_001, 1), [ORG])
    assert refused == ORG
    assert "monthly spend limit of $0.00" in ORG.describe()
    assert "500 tokens" in key.describe()
    db.run(ledger.release, first)
    assert state(db, "org_a") == (0, 0, 0, 0)
    assert state(db, "key_a") == (0, 0, 0, 0)


def test_hold_exactly_at_the_limit_is_allowed(db):
    assert isinstance(db.run(ledger.hold, wanted(1_000_000, 1), [ORG]), ledger.Hold)
    assert db.run(ledger.hold, wanted(1, 1), [ORG]) == ORG


def test_a_key_with_limits_of_its_own_is_counted_too(db):
    key = ledger.Limit("key_a", "API key", spend_limit_nanos=300_000, token_limit=None)
    held = db.run(ledger.hold, wanted(250_000, 200), [ORG, key])
    db.run(ledger.settle, entry(key_counted=True), held)
    assert state(db, "org_a") == (150, 200_000, 0, 0)
    assert state(db, "key_a") == (150, 200_000, 0, 0)


async def test_a_release_in_a_failed_batch_still_releases(db):
    held = await db.write(ledger.hold, wanted(400_000, 300), [ORG])
    gate = threading.Event()
    blocker = asyncio.ensure_future(db.write(lambda _c: gate.wait(5)))
    await asyncio.sleep(0.05)
    release = asyncio.ensure_future(db.write(ledger.release, held))
    failing = asyncio.ensure_future(db.write(_fail))
    gate.set()
    await blocker
    await release
    with pytest.raises(ValueError):
        await failing
    assert await db.read(counter, "org_a") is not None
    assert state(db) == (0, 0, 0, 0)


def _fail(_connection) -> None:
    raise ValueError("a bad admin write, in the same batch")


def holds(connection) -> list:
    return list(connection.execute(select(budget_holds)))


def test_a_hold_is_a_row_until_settled_and_releasing_twice_gives_back_once(db):
    key = ledger.Limit("key_a", "API key", spend_limit_nanos=None, token_limit=10_000)
    first = db.run(ledger.hold, wanted(400_000, 300, "req_1"), [ORG, key])
    second = db.run(ledger.hold, wanted(100_000, 100, "req_2"), [ORG, key])
    rows = {row.request_id: row for row in db.run(holds)}
    assert set(rows) == {"req_1", "req_2"} and rows["req_1"].scopes == "org_a,key_a"
    assert db.run(ledger.release, second) is True
    assert db.run(ledger.release, second) is False
    assert state(db) == (0, 0, 300, 400_000) and state(db, "key_a") == (0, 0, 300, 400_000)
    db.run(ledger.settle, entry("req_1"), first)
    assert db.run(holds) == []
    assert state(db) == (150, 200_000, 0, 0)


def test_an_expired_hold_is_swept_and_its_late_settle_adds_only_the_use(db):
    noon = datetime(2026, 11, 20, 12)
    stale = db.run(ledger.hold, wanted(400_000, 300, "req_1", noon), [ORG])
    fresh = db.run(ledger.hold, wanted(100_000, 100, "req_2", noon + timedelta(hours=1)), [ORG])
    assert state(db) == (0, 0, 400, 500_000)
    assert db.run(ledger.sweep_expired, noon + timedelta(minutes=1)) == 1
    assert state(db) == (0, 0, 100, 100_000)  # only the fresh hold stands
    assert db.run(ledger.sweep_expired, noon + timedelta(minutes=1)) == 0
    # the stale request settles after all: it is charged, and nothing is given back twice
    assert db.run(ledger.settle, entry("req_1"), stale) == 200_000
    assert state(db) == (150, 200_000, 100, 100_000)
    db.run(ledger.release, fresh)
    assert state(db) == (150, 200_000, 0, 0)
    assert db.run(holds) == []


def test_a_full_budget_is_free_again_once_a_lost_hold_is_swept(db):
    noon = datetime(2026, 11, 20, 12)
    db.run(ledger.hold, wanted(1_000_000, 10, "req_lost", noon), [ORG])  # never settles
    assert db.run(ledger.hold, wanted(1, 1, "req_next"), [ORG]) == ORG
    db.run(ledger.sweep_expired, noon + timedelta(seconds=1))
    assert isinstance(db.run(ledger.hold, wanted(1, 1, "req_next"), [ORG]), ledger.Hold)
