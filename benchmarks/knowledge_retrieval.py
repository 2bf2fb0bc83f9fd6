"""Retrieval quality on the bilingual knowledge set (`benchmarks/knowledge_set/`): recall@1,
recall@3 and MRR of BM25 alone, embeddings alone and the hybrid, per language.

The set's 12 documents (6 Chinese, 6 English) go through the real path: uploaded,
ingested into a vector store (default `auto` chunking, or --chunk-tokens/--overlap) and
searched with `POST /v1/vector_stores/{id}/search`, once per method with
`ranking_options.hybrid_search` weights (`auto`: the server's default weights per
language). A result is relevant when it comes from the question's document and holds its
evidence or an answer key. Questions the documents do not answer are left out here.

    python benchmarks/knowledge_retrieval.py [--weights 1:0,0:1,auto,1:1,3:1,1:2]
        [--chunk-tokens N --overlap M] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from typing import Any

from knowledge_server import Ingested, ingested, load_questions

NAMES = {"1:0": "bm25", "0:1": "embeddings"}


def relevant(result: dict, question: dict, file_id: str) -> bool:
    text = " ".join(part["text"] for part in result["content"])
    inside = question["evidence"] in text or any(k in text for k in question["answer_keys"])
    return result["file_id"] == file_id and inside


async def ranks(base: Ingested, weights: str, questions: list[dict]) -> dict[str, list]:
    found: dict[str, list[int | None]] = {"zh": [], "en": []}
    for question in questions:
        body: dict[str, Any] = {"query": question["question"], "max_num_results": 10}
        if weights != "auto":
            text, embedding = (float(w) for w in weights.split(":"))
            hybrid = {"text_weight": text, "embedding_weight": embedding}
            body["ranking_options"] = {"hybrid_search": hybrid}
        page = await base.http.post(f"/v1/vector_stores/{base.store_id}/search", json=body)
        results = page.raise_for_status().json()["data"]
        file_id = base.file_ids[question["document"]]
        hit = [i for i, r in enumerate(results, 1) if relevant(r, question, file_id)]
        found[question["language"]].append(hit[0] if hit else None)
    return found


def scores(found: list[int | None]) -> dict[str, float]:
    return {
        "recall@1": statistics.mean(r is not None and r <= 1 for r in found),
        "recall@3": statistics.mean(r is not None and r <= 3 for r in found),
        "mrr": statistics.mean(1 / r if r else 0.0 for r in found),
    }


async def run(methods: list[str], chunking: dict | None) -> dict[str, dict]:
    questions = [q for q in load_questions() if q["document"]]
    results = {}
    async with ingested(chunking) as base:
        for weights in methods:
            found = await ranks(base, weights, questions)
            name = NAMES.get(weights, "hybrid " + weights)
            results[name] = {lang: scores(r) for lang, r in found.items()}
            results[name]["all"] = scores(found["zh"] + found["en"])
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--weights", default="1:0,0:1,auto,1:1,3:1,1:2")
    parser.add_argument("--chunk-tokens", type=int)
    parser.add_argument("--overlap", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    chunking = None
    if args.chunk_tokens:
        sizes = {"max_chunk_size_tokens": args.chunk_tokens,
                 "chunk_overlap_tokens": args.overlap or 0}  # fmt: skip
        chunking = {"type": "static", "static": sizes}
    results = asyncio.run(run(args.weights.split(","), chunking))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| method | recall@1 | recall@3 | MRR | zh recall@3 | en recall@3 |")
    print("|---|---|---|---|---|---|")
    for method, found in results.items():
        a, zh, en = found["all"], found["zh"], found["en"]
        print(f"| {method} | {a['recall@1']:.2f} | {a['recall@3']:.2f} | {a['mrr']:.3f} "
              f"| {zh['recall@3']:.2f} | {en['recall@3']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
