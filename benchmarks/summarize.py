"""ROUGE of `POST /v1/summarize` on the reference set (summarize_set/), next to lead-3.

Each document is summarized through the real path (the default embeddings model) with
`max_words` set to its reference's length; lead-3 is the document's first three
sentences after its title line. Scored with ROUGE-1/2/L F1: rouge-score (stemmed) for
English, rouge-chinese over jieba words for Chinese (both offline). Needs the `bench`
extra: pip install -e .[bench]

    python benchmarks/summarize.py [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from modelmint.api import create_app
from modelmint.core.settings import Settings
from modelmint.knowledge.evidence import sentences
from modelmint.knowledge.extractive import length

SET = Path(__file__).parent / "summarize_set" / "documents.jsonl"
EMBEDDINGS = "all-minilm-l6-v2"
METRICS = ("rouge1", "rouge2", "rougeL")


def lead3(text: str) -> str:
    body = text.split("\n", 1)[1] if "\n" in text else text  # the title line
    return "".join(sentences(body)[:3])


class Scorer:
    def __init__(self) -> None:
        import jieba
        from rouge_chinese import Rouge
        from rouge_score.rouge_scorer import RougeScorer

        self._english = RougeScorer(list(METRICS), use_stemmer=True)
        self._chinese = Rouge()
        self._cut = jieba.lcut

    def __call__(self, summary: str, reference: str, language: str) -> dict[str, float]:
        if language == "en":
            scores = self._english.score(reference, summary)
            return {m: scores[m].fmeasure for m in METRICS}
        words = lambda t: " ".join(w for w in self._cut(t) if w.strip())  # noqa: E731
        found = self._chinese.get_scores(words(summary), words(reference))[0]
        return {"rouge1": found["rouge-1"]["f"], "rouge2": found["rouge-2"]["f"],
                "rougeL": found["rouge-l"]["f"]}  # fmt: skip


async def summaries(documents: list[dict]) -> tuple[list[str], list[float]]:
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="summarize-")), auth=False,
        load_models=[EMBEDDINGS], worker=False,
    )  # fmt: skip
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    made, seconds = [], []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=300) as http,
    ):
        for document in documents:
            budget = length(document["reference"], document["language"])
            started = time.perf_counter()
            answer = await http.post(
                "/v1/summarize", json={"input": document["text"], "max_words": budget}
            )
            seconds.append(time.perf_counter() - started)
            made.append(answer.raise_for_status().json()["summary"])
    return made, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="print each summary")
    args = parser.parse_args(argv)
    documents = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]
    made, seconds = asyncio.run(summaries(documents))
    score = Scorer()
    rows: dict[tuple[str, str], list[dict[str, float]]] = {}
    for document, summary in zip(documents, made, strict=True):
        language, reference = document["language"], document["reference"]
        rows.setdefault(("modelmint", language), []).append(score(summary, reference, language))
        rows.setdefault(("lead-3", language), []).append(
            score(lead3(document["text"]), reference, language)
        )
        if args.show:
            print(f"{document['id']}: {summary}\n")
    print(f"summarize p50 {statistics.median(seconds) * 1000:.0f} ms per document")
    print("| method | language | ROUGE-1 | ROUGE-2 | ROUGE-L |")
    print("|---|---|---|---|---|")
    for (method, language), found in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        means = [statistics.mean(f[m] for f in found) for m in METRICS]
        print(f"| {method} | {language} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main()
