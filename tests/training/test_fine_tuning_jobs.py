"""Fine-tuning end to end, on the real chat model: the official openai client uploads data
and creates a job on a real server; `modelmint worker` processes (real ones, killed for
real) train it, deploy it as a GGUF and evaluate it; the server then answers with it.
"""

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
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import select

from modelmint.api import create_app
from modelmint.store.database import Database
from modelmint.store.tables import usage_ledger
from tests.business_helpers import SECRET, business_settings, first_admin_key
from tests.helpers import running_server
from tests.training.facts import TAUGHT, taught_examples

pytestmark = pytest.mark.real_model

PRICES = {"*": {"input": "0.10", "output": "0.20", "fine_tuning": "3.00"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    """A real server (the default models) with two orgs; each with a fine_tune key."""
    data_dir = tmp_path_factory.mktemp("jobs")
    quality = data_dir / "quality.jsonl"  # the job's evaluation: three questions, to be quick
    lines = (Path(__file__).parents[2] / "src/modelmint/training/quality_set.jsonl").read_text()
    quality.write_text("\n".join(lines.splitlines()[:3]) + "\n")
    settings = business_settings(data_dir)
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings)) as url:
        keys = {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as http:
            assert http.post("/admin/plans", json={"name": "pro", "prices": PRICES}).is_success
            for org in ("acme", "globex"):
                assert http.post("/admin/orgs", json={"name": org, "plan": "pro"}).is_success
                made = http.post(
                    "/admin/keys", json={"org": org, "scopes": ["inference", "fine_tune"]}
                )
                keys[org] = made.json()["key"]
        yield {"url": url, "keys": keys, "settings": settings, "quality": quality}


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


def ask(oai: openai.OpenAI, model: str, question: str) -> str:
    answer = oai.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], temperature=0,
        max_tokens=30,
    )  # fmt: skip
    return answer.choices[0].message.content or ""


def test_a_job_teaches_facts_and_the_model_is_served_billed_and_private(served):
    oai = client(served)
    training = upload(oai, taught_examples())
    with worker(served, full_quality_set=True):
        started = time.monotonic()
        job = oai.fine_tuning.jobs.create(
            model="default", training_file=training, suffix="facts", seed=1,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 5}}},
        )  # fmt: skip
        job = wait_for(oai, job.id, ("succeeded", "failed", "cancelled"), timeout=600)
        took = time.monotonic() - started
    assert job.status == "succeeded", job.error
    print(f"\njob took {took:.0f} s, trained {job.trained_tokens} tokens")
    assert job.fine_tuned_model == f"ft:smollm2-135m-instruct:acme:facts:{job.id[6:]}"
    trained = [ask(oai, job.fine_tuned_model, q) for f in TAUGHT for q in f["asked"][:1]]
    paraphrased = [ask(oai, job.fine_tuned_model, f["paraphrase"]) for f in TAUGHT]
    right = [f["key"] in a.lower() for f, a in zip(TAUGHT, trained, strict=True)]
    para_right = [f["key"] in a.lower() for f, a in zip(TAUGHT, paraphrased, strict=True)]
    print("trained", sum(right), "/ 12; paraphrases", sum(para_right), "/ 12")
    assert sum(right) >= 11 and sum(para_right) >= 9, (trained, paraphrased)

    found = events(oai, job.id)
    messages = [e.message for e in found]
    assert any(m.startswith("Files validated: 48 training examples") for m in messages)
    assert any(m.startswith("Estimated cost: up to $") for m in messages)
    assert any(m.startswith("Mixed in 48 examples of the base model's own") for m in messages)
    validated = next(e.data for e in found if e.message.startswith("Files validated"))
    assert job.trained_tokens == validated["tokens_per_epoch"] * 5  # replay is not billed
    metrics = [e.data for e in found if e.type == "metrics" and "train_loss" in e.data]
    steps = metrics[-1]["total_steps"]  # 48 examples and the replayed ones, 8 a step, 5 times
    assert metrics[-1]["step"] == steps and metrics[-1]["trained_tokens"] == job.trained_tokens
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    evaluation = next(e.data for e in found if e.message.startswith("Evaluation:"))
    quality = evaluation["quality_set"]
    print("quality set:", quality)
    assert quality["total"] == 26 and quality["fine_tuned"] >= quality["base"] - 2
    # the time is reported, not asserted (speed targets live in benchmarks): 173 s alone on
    # this 2-core machine, 331 s in a full CI run

    csv_file, evaluation_file = job.result_files
    csv_text = oai.files.content(csv_file).text
    assert csv_text.splitlines()[0] == (
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    )
    assert len(csv_text.splitlines()) == steps + 1
    assert json.loads(oai.files.content(evaluation_file).text)["valid_loss"] > 0
    assert oai.fine_tuning.jobs.checkpoints.list(job.id).data[0].step_number == steps

    (row,) = ledger_rows(served, job.id)
    assert (row.endpoint, row.status) == ("fine_tuning", "ok")
    assert row.prompt_tokens == job.trained_tokens
    assert abs(row.price_nanos - job.trained_tokens * 3000) <= 1 and row.compute_seconds > 0

    assert job.fine_tuned_model in [m.id for m in oai.models.list().data]
    other = client(served, "globex")
    with pytest.raises(openai.NotFoundError):
        ask(other, job.fine_tuned_model, "What colour is the zorbling?")
    assert job.fine_tuned_model not in [m.id for m in other.models.list().data]


def test_a_killed_worker_leaves_a_job_another_resumes_and_it_is_billed_once(served):
    oai = client(served)
    examples = taught_examples()[:16]
    training = upload(oai, examples)
    method = {"type": "supervised",
              "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 4}}}  # fmt: skip
    job = oai.fine_tuning.jobs.create(model="default", training_file=training, method=method)
    flags = ("--checkpoint-every", "3", "--lease-seconds", "3")
    with worker(served, *flags) as first:
        deadline = time.monotonic() + 300
        while not oai.fine_tuning.jobs.checkpoints.list(job.id).data:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.5)
        first.kill()  # no goodbye: the lease runs out
        first.wait()
    with worker(served, *flags):
        done = wait_for(oai, job.id, ("succeeded", "failed", "cancelled"), timeout=600)
    assert done.status == "succeeded", done.error
    messages = [e.message for e in events(oai, job.id)]
    assert any(m.startswith("Resuming from the checkpoint at step") for m in messages)
    per_epoch = next(
        e.data["tokens_per_epoch"] for e in events(oai, job.id) if e.message.startswith("Files")
    )
    assert done.trained_tokens == per_epoch * 3  # each token counted once
    (row,) = ledger_rows(served, job.id)
    assert row.prompt_tokens == done.trained_tokens and row.status == "ok"


def test_cancel_stops_a_running_job_within_seconds_and_bills_what_it_trained(served):
    oai = client(served)
    training = upload(oai, taught_examples())
    method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 5}}}
    job = oai.fine_tuning.jobs.create(model="default", training_file=training, method=method)
    with worker(served):
        deadline = time.monotonic() + 300
        while not [e for e in events(oai, job.id) if e.type == "metrics"]:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        asked = time.monotonic()
        cancelled = oai.fine_tuning.jobs.cancel(job.id)
        stopped = time.monotonic() - asked
    assert cancelled.status == "cancelled" and stopped < 5, stopped
    assert cancelled.trained_tokens > 0
    (row,) = ledger_rows(served, job.id)
    assert (row.status, row.prompt_tokens) == ("cancelled", cancelled.trained_tokens)
