"""Fine-tuning end to end, on the real chat model: the official openai client uploads data
and creates a job on a real server; `modelmint worker` processes (real ones, killed for
real) train it, deploy it as a GGUF and evaluate it; the server then answers with it.
"""

from __future__ import annotations

import json
import time

import openai
import pytest

from tests.training.facts import TAUGHT, taught_examples
from tests.training.job_helpers import client, events, ledger_rows, upload, wait_for, worker

pytestmark = pytest.mark.real_model


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
    # what was asked, and the recipe's choice for each "auto", as OpenAI shows them
    assert job.hyperparameters.model_dump() == {
        "n_epochs": 5, "batch_size": 8, "learning_rate_multiplier": 1.0
    }  # fmt: skip
    trained = [ask(oai, job.fine_tuned_model, q) for f in TAUGHT for q in f["asked"][:1]]
    paraphrased = [ask(oai, job.fine_tuned_model, f["paraphrase"]) for f in TAUGHT]
    right = [f["key"] in a.lower() for f, a in zip(TAUGHT, trained, strict=True)]
    para_right = [f["key"] in a.lower() for f, a in zip(TAUGHT, paraphrased, strict=True)]
    print("trained", sum(right), "/ 12; paraphrases", sum(para_right), "/ 12")
    # paraphrases of invented facts (never trained on) came out 8-10 of 12 on
    # different CPUs: the same seeded run rounds differently with other vector units
    assert sum(right) >= 11 and sum(para_right) >= 8, (trained, paraphrased)

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
