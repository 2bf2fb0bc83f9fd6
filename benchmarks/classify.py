"""Zero-shot accuracy of `POST /v1/classify` on the labelled sets (classify_set/), for
each scoring method, per language; and the seed's sentence "我爱编程，编程使我快乐。".

Both sets go through the real path with the default models: `chat` (the judge's
first-token label probabilities, calibrated by a content-free input; the judge is the
registry's `classify` entry, Qwen2.5-Coder-1.5B), `embeddings` (MiniLM's cosine
similarity to each label in a sentence), `both` (their product: what `auto` takes) and
`likelihood` (the judge's probability of the text after each label).

    python benchmarks/classify.py [--methods both,chat,embeddings,likelihood]
        [--models FILE --model NAME]   # another registry entry as the judge
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx

from modelmint.api import create_app
from modelmint.core.settings import Settings

SET = Path(__file__).parent / "classify_set"
TASKS = {
    "sentiment": ["positive", "negative"],
    "tickets": ["billing", "shipping", "technical", "account", "returns", "product_question"],
}
SEED = "我爱编程，编程使我快乐。"
BATCH = 16


def load(name: str) -> list[dict]:
    lines = (SET / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


async def classify(
    http: httpx.AsyncClient, texts: list[str], labels: list[str], method: str, model: str | None
):
    found = []
    for start in range(0, len(texts), BATCH):
        body = {"input": texts[start : start + BATCH], "labels": labels, "method": method}
        if model:
            body["model"] = model
        answer = await http.post("/v1/classify", json=body)
        found += answer.raise_for_status().json()["data"]
    return found


async def run(methods: list[str], models_file: Path | None, model: str | None) -> None:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="classify-")),
        auth=False,
        worker=False,
        models_file=models_file,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    print("| method | set | zh accuracy | en accuracy | seconds |")
    print("|---|---|---|---|---|")
    seeds = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=600) as http,
    ):
        for method in methods:
            for name, labels in TASKS.items():
                rows = load(name)
                started = time.perf_counter()
                found = await classify(http, [r["text"] for r in rows], labels, method, model)
                seconds = time.perf_counter() - started
                right = {"zh": [], "en": []}
                for row, got in zip(rows, found, strict=True):
                    right[row["language"]].append(got["label"] == row["label"])
                zh, en = (sum(right[k]) / len(right[k]) for k in ("zh", "en"))
                print(f"| {method} | {name} | {zh:.2f} | {en:.2f} | {seconds:.1f} |")
            seed = (await classify(http, [SEED], TASKS["sentiment"], method, model))[0]
            seeds[method] = {s["label"]: s["score"] for s in seed["scores"]}
    for method, scores in seeds.items():
        print(f"{method}: {SEED} -> positive {scores['positive']:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="both,chat,embeddings,likelihood")
    parser.add_argument("--models", type=Path, help="a models registry (TOML) to serve")
    parser.add_argument("--model", help="the registry entry that judges (default: per method)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.methods.split(","), args.models, args.model))


if __name__ == "__main__":
    main()
