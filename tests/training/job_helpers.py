"""What the end-to-end job tests share: clients of the test server, a real `modelmint
worker` process, uploads, waiting for a job, its events and its ledger rows."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import openai
from sqlalchemy import select

from modelmint.store.database import Database
from modelmint.store.tables import usage_ledger
from tests.business_helpers import SECRET

PRICES = {"*": {"input": "0.10", "output": "0.20", "fine_tuning": "3.00"}}


def client(served: dict, org: str = "acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=served["url"] + "/v1", api_key=served["keys"][org], max_retries=0)


@contextmanager
def worker(served: dict, *flags: str, full_quality_set: bool = False) -> Iterator[subprocess.Popen]:
    """A `modelmint worker` process on the server's data dir and database; its jobs'
    evaluation asks three questions of the quality set unless `full_quality_set`."""
    settings = served["settings"]
    env = dict(os.environ, MODELMINT_DATA_DIR=str(settings.data_dir), MODELMINT_SECRET_KEY=SECRET)
    if not full_quality_set:
        env["MODELMINT_FINE_TUNE_QUALITY_SET"] = str(served["quality"])
    command = [sys.executable, "-m", "modelmint", "worker", "--threads", "2", *flags]
    process = subprocess.Popen(command, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def upload(oai: openai.OpenAI, examples: list[dict]) -> str:
    data = "".join(json.dumps(e) + "\n" for e in examples).encode()
    return oai.files.create(file=("train.jsonl", io.BytesIO(data)), purpose="fine-tune").id


def wait_for(oai: openai.OpenAI, job_id: str, statuses: tuple[str, ...], timeout: float):
    deadline = time.monotonic() + timeout
    while (job := oai.fine_tuning.jobs.retrieve(job_id)).status not in statuses:
        assert time.monotonic() < deadline, f"{job_id} still {job.status} after {timeout} s"
        time.sleep(0.5)
    return job


def events(oai: openai.OpenAI, job_id: str) -> list:
    return list(reversed(oai.fine_tuning.jobs.list_events(job_id, limit=100).data))


def ledger_rows(served: dict, job_id: str) -> list:
    db = Database(served["settings"].resolved_database_url())
    try:
        query = select(usage_ledger).where(usage_ledger.c.request_id == job_id)
        return db.run(lambda c: c.execute(query).all())
    finally:
        db.close()
