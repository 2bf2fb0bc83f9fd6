"""The ingestion queue: orgs take turns (the next file is the next org's, wrapping round,
however many files one org added first), a leased file is not claimed twice, and a lease
that ran out is claimed again."""

from __future__ import annotations

from datetime import datetime, timedelta

from modelmint.store.database import Database
from modelmint.store.knowledge_chunks import claim_files
from modelmint.store.tables import vector_store_files

START = datetime(2026, 1, 1)
LEASE = timedelta(minutes=5)


def add_waiting(db: Database, org: str, count: int, start: datetime) -> None:
    rows = [
        {"vector_store_id": f"vs_{org}", "file_id": f"file-{org}-{i}", "org_id": org,
         "status": "in_progress", "chunking": {}, "usage_bytes": 0,
         "created_at": start + timedelta(seconds=i)}
        for i in range(count)
    ]  # fmt: skip
    with db.engine.begin() as connection:
        connection.execute(vector_store_files.insert(), rows)


def claim(db: Database, now: datetime, after_org: str = ""):
    with db.engine.begin() as connection:
        return claim_files(connection, now, now + LEASE, 1, after_org)


def test_orgs_take_turns_however_many_files_one_added_first(db):
    add_waiting(db, "org_a", 5, START)  # a big upload first
    add_waiting(db, "org_c", 1, START + timedelta(minutes=1))
    add_waiting(db, "org_b", 1, START + timedelta(minutes=2))
    served, last = [], ""
    for _ in range(5):
        (record,) = claim(db, START + timedelta(hours=1), last)
        served.append(record.file_id)
        last = record.org_id
    turns = ["file-org_a-0", "file-org_b-0", "file-org_c-0", "file-org_a-1", "file-org_a-2"]
    assert served == turns


def test_a_leased_file_waits_for_its_lease_to_run_out(db):
    add_waiting(db, "org_a", 1, START)
    now = START + timedelta(hours=1)
    assert [r.file_id for r in claim(db, now)] == ["file-org_a-0"]
    assert claim(db, now + LEASE / 2) == []
    assert [r.file_id for r in claim(db, now + LEASE * 2)] == ["file-org_a-0"]
