"""The ledger spool: settles that failed are kept durably, replayed in order, and only the
ones that fail again stay, ahead of anything kept meanwhile."""

from __future__ import annotations

from datetime import datetime

from modelmint.billing.ledger import Hold
from modelmint.billing.spool import LedgerSpool
from tests.billing.test_ledger import entry


def hold(request_id: str) -> Hold:
    return Hold(request_id, "2026-11", 500, 30, datetime(2026, 11, 20, 13), ["org_a", "key_a"])


async def test_kept_settles_come_back_whole_and_in_order(tmp_path):
    spool = LedgerSpool(tmp_path / "spool.jsonl")
    spool.keep(entry("req_1"), hold("req_1"))
    spool.keep(entry("req_2", completion=7), None)
    assert len(spool) == 2
    seen = []

    async def settle(e, h):
        seen.append((e, h))

    assert await spool.replay(settle) == 2
    assert seen == [(entry("req_1"), hold("req_1")), (entry("req_2", completion=7), None)]
    assert len(spool) == 0 and not spool.path.exists()


async def test_what_fails_again_stays_ahead_of_what_was_kept_meanwhile(tmp_path):
    spool = LedgerSpool(tmp_path / "spool.jsonl")
    spool.keep(entry("req_1"), hold("req_1"))
    spool.keep(entry("req_2"), hold("req_2"))

    async def settle(e, h):
        if e.request_id == "req_1":
            spool.keep(entry("req_3"), None)  # another request fails while replaying
            raise ConnectionError("the database is still away")

    assert await spool.replay(settle) == 1
    written = []

    async def record(e, h):
        written.append(e.request_id)

    assert await spool.replay(record) == 2
    assert written == ["req_1", "req_3"]


async def test_an_unreadable_line_is_set_aside_not_retried_forever(tmp_path):
    spool = LedgerSpool(tmp_path / "spool.jsonl")
    spool.keep(entry("req_1"), None)
    with spool.path.open("a") as f:
        f.write('{"entry": {"half a line\n')

    async def settle(e, h):
        pass

    assert await spool.replay(settle) == 1
    assert len(spool) == 0
    assert "half a line" in spool.path.with_suffix(".unreadable").read_text()


async def test_a_line_cut_by_a_crash_does_not_swallow_the_next_one(tmp_path):
    spool = LedgerSpool(tmp_path / "spool.jsonl")
    spool.keep(entry("req_1"), None)
    with spool.path.open("a") as f:
        f.write('{"entry": {"request_id": "req_cut')  # the process died mid-append
    spool.keep(entry("req_2"), None)
    written = []

    async def settle(e, h):
        written.append(e.request_id)

    assert await spool.replay(settle) == 2
    assert written == ["req_1", "req_2"]
    assert "req_cut" in spool.path.with_suffix(".unreadable").read_text()
