"""The worker and its queue on SQLite and PostgreSQL, with a scripted pipeline in place of
training: one claim per job however many workers race, a lease that a dead worker loses,
a cancel seen within a second, a failure recorded with its reason, and billing once."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from modelmint.core.ids import utcnow
from modelmint.services import admin
from modelmint.store import fine_tuning as rows
from modelmint.store.database import Database
from modelmint.store.fine_tuning import JobRecord
from modelmint.tenancy.orgs import get_org
from modelmint.training.fine_tune import JobFailed, JobSetup
from modelmint.training.worker import Worker, WorkerOptions
from tests.business_helpers import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    database = Database(database_url(request.param, tmp_path))
    database.migrate()
    database.run(admin.create_org, admin.OrgCreate(name="acme"), "test")
    yield database
    database.close()


def add_job(db: Database, job_id: str) -> JobRecord:
    org = db.run(get_org, "acme")
    job = JobRecord(
        id=job_id, org_id=org.id, key_id=None, model="m", training_file="file-x",
        validation_file=None, suffix=None, seed=0, hyperparameters={}, metadata=None,
        status="validating_files", created_at=utcnow(), output_model=f"ft:m:acme::{job_id}",
    )  # fmt: skip
    db.run(rows.add_job, job)
    return job


class Platform:
    """A `JobPlatform` that records what the worker bills."""

    def __init__(self) -> None:
        self.bills: list[tuple[str, int, bool]] = []
        self.released: list[str] = []

    async def setup(self, job, options):
        return JobSetup(Path("b.gguf"), Path("b"), 2048, Path("w"), Path("m.gguf"), "ft:m")

    async def open_file(self, job, file_id):
        return iter(())

    async def hold(self, job, worst_tokens):
        return f"held {worst_tokens}"

    async def bill(self, job, trained_tokens, seconds, cancelled):
        self.bills.append((job.id, trained_tokens, cancelled))

    async def release(self, job):
        self.released.append(job.id)

    async def save_result(self, job, filename, content):
        return "file-result"

    async def register(self, job, model_id, gguf):
        pass


def training(steps: int, step_seconds: float = 0.05, started: threading.Event | None = None):
    """A pipeline that holds, then 'trains' `steps` steps of 10 tokens until stopped."""

    def run(job, setup, io, tally):
        io.event(io.hold(steps * 10))
        io.update(status="running")
        for step in range(steps):
            if io.stopping():
                return
            if started is not None:
                started.set()
            time.sleep(step_seconds)
            tally.trained_tokens = (step + 1) * 10
        io.bill(tally.trained_tokens, tally.seconds, cancelled=False)
        io.update(status="succeeded", trained_tokens=tally.trained_tokens, finished_at=utcnow())

    return run


def fast(**changes) -> WorkerOptions:
    return WorkerOptions(renew_seconds=0.1, poll_seconds=0.05, **changes)


async def test_racing_workers_claim_each_job_once(db):
    for i in range(4):
        add_job(db, f"ftjob-{i}")
    platform = Platform()
    workers = [Worker(db, platform, fast(worker_id=f"w{i}"), training(2)) for i in range(3)]

    async def drain(worker: Worker) -> int:
        count = 0
        while await worker.run_one():
            count += 1
        return count

    ran = await asyncio.gather(*(drain(w) for w in workers))
    assert sum(ran) == 4
    assert sorted(bill[0] for bill in platform.bills) == [f"ftjob-{i}" for i in range(4)]
    for i in range(4):
        job = db.run(rows.find_job, f"ftjob-{i}")
        assert (job.status, job.trained_tokens, job.attempts) == ("succeeded", 20, 1)


async def test_a_job_whose_lease_ran_out_is_claimed_again(db):
    add_job(db, "ftjob-a")
    now = utcnow()
    assert db.run(rows.claim_job, "ftjob-a", "dead", now, now + timedelta(seconds=30))
    assert not db.run(rows.claim_job, "ftjob-a", "other", now, now + timedelta(seconds=30))
    later = now + timedelta(seconds=31)
    assert db.run(rows.claimable, later) == ["ftjob-a"]
    assert db.run(rows.claim_job, "ftjob-a", "other", later, later + timedelta(seconds=30))
    assert db.run(rows.renew_lease, "ftjob-a", "dead", later) is None  # it lost the job
    assert db.run(rows.find_job, "ftjob-a").attempts == 2


async def test_cancel_stops_a_running_job_and_bills_what_it_trained(db):
    add_job(db, "ftjob-c")
    platform, started = Platform(), threading.Event()
    worker = Worker(db, platform, fast(), training(1000, 0.05, started))
    running = asyncio.create_task(worker.run_one())
    await asyncio.to_thread(started.wait, 10)
    await asyncio.sleep(0.3)
    asked = time.monotonic()
    db.run(rows.request_cancel, "ftjob-c", utcnow())
    await running
    assert time.monotonic() - asked < 1.0
    job = db.run(rows.find_job, "ftjob-c")
    assert job.status == "cancelled" and job.trained_tokens > 0
    assert platform.bills == [("ftjob-c", job.trained_tokens, True)]


async def test_a_queued_job_nobody_holds_is_cancelled_at_once(db):
    add_job(db, "ftjob-q")
    db.run(rows.request_cancel, "ftjob-q", utcnow())
    assert db.run(rows.find_job, "ftjob-q").status == "cancelled"
    assert db.run(rows.claimable, utcnow()) == []


async def test_a_failed_job_says_why_and_gives_its_hold_back(db):
    add_job(db, "ftjob-f")

    def broken(job, setup, io, tally):
        raise JobFailed("invalid_file_format", "training_file file-x: line 3: not valid JSON",
                        "training_file")  # fmt: skip

    platform = Platform()
    await Worker(db, platform, fast(), broken).run_one()
    job = db.run(rows.find_job, "ftjob-f")
    assert job.status == "failed" and job.error["code"] == "invalid_file_format"
    assert "line 3" in job.error["message"] and platform.released == ["ftjob-f"]
    events = db.run(rows.list_events, "ftjob-f", None, 10)
    assert events[0].level == "error" and "line 3" in events[0].message


async def test_a_stopping_worker_leaves_its_job_for_another(db):
    add_job(db, "ftjob-s")
    platform, started, stop = Platform(), threading.Event(), asyncio.Event()
    worker = Worker(db, platform, fast(), training(1000, 0.05, started))
    running = asyncio.create_task(worker.run(stop))
    await asyncio.to_thread(started.wait, 10)
    stop.set()
    await asyncio.wait_for(running, 5)
    job = db.run(rows.find_job, "ftjob-s")
    assert job.status == "running" and job.lease_until is None and platform.bills == []
    assert db.run(rows.claimable, utcnow()) == ["ftjob-s"]


async def test_a_cancel_that_comes_after_the_last_step_leaves_a_succeeded_job_alone(db):
    add_job(db, "ftjob-late")

    def finishing(job, setup, io, tally):
        io.event(io.hold(10))
        io.update(status="running")
        tally.trained_tokens = 10
        db.run(rows.request_cancel, "ftjob-late", utcnow())
        time.sleep(0.5)  # the lease keeper sees the cancel; no step is left to stop
        io.bill(10, tally.seconds, cancelled=False)
        io.update(status="succeeded", trained_tokens=10, finished_at=utcnow())

    platform = Platform()
    await Worker(db, platform, fast(), finishing).run_one()
    assert db.run(rows.find_job, "ftjob-late").status == "succeeded"
    assert platform.bills == [("ftjob-late", 10, False)]  # billed once
