"""Answer quality of `POST /v1/ask` on the bilingual knowledge set (knowledge_set/).

The twelve documents go through the real path: uploaded to `/v1/files`, ingested into a
vector store (the default `auto` chunking, the default embeddings model), then every
question of questions.jsonl is asked. Reported per language:

- answer accuracy: an answerable question's answer contains one of its answer keys, an
  unanswerable one's answer says the documents do not answer;
- first citation: of the answers given (not "not found"), the share whose first citation
  is a chunk of the right document that holds the evidence (or an answer key);
- retrieval: the share whose right document is among the citations at all.

    python benchmarks/knowledge_ask.py [--show-misses]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from knowledge_server import ingested, load_questions

from modelmint.knowledge.evidence import NOT_FOUND


def judged(question: dict, answer: dict, names: dict[str, str]) -> dict[str, bool]:
    """Whether the answer is right, and whether its first citation holds the evidence."""
    text = answer["answer"]
    citations = answer["citations"]
    given = text not in NOT_FOUND.values()
    if not question["answer_keys"]:
        return {"right": not given, "given": given, "first": False, "found": not given}
    right = any(key in text for key in question["answer_keys"])
    wanted = names[question["document"]]

    def holds(citation: dict) -> bool:
        inside = question["evidence"] in citation["text"] or any(
            key in citation["text"] for key in question["answer_keys"]
        )
        return citation["file_id"] == wanted and inside

    first = given and bool(citations) and holds(citations[0])
    found = any(c["file_id"] == wanted for c in citations)
    return {"right": right, "given": given, "first": first, "found": found}


async def run(show_misses: bool) -> dict[str, dict[str, float]]:
    results: dict[str, list[dict[str, bool]]] = {}
    latencies = []
    async with ingested() as base:
        print(f"ingested {len(base.file_ids)} documents in {base.seconds:.1f} s")
        for question in load_questions():
            started = time.perf_counter()
            answer = await base.http.post("/v1/ask", json={"question": question["question"]})
            latencies.append(time.perf_counter() - started)
            verdict = judged(question, answer.raise_for_status().json(), base.file_ids)
            results.setdefault(question["language"], []).append(verdict)
            if show_misses and not verdict["right"]:
                print(f"  miss {question['id']}: {question['question']}\n"
                      f"       -> {answer.json()['answer'][:160]}")  # fmt: skip
    latencies.sort()
    print(f"ask latency p50 {latencies[len(latencies) // 2] * 1000:.0f} ms")
    return {language: _shares(verdicts) for language, verdicts in sorted(results.items())}


def _shares(verdicts: list[dict[str, bool]]) -> dict[str, float]:
    given = sum(v["given"] for v in verdicts)
    return {
        "n": len(verdicts),
        "right": sum(v["right"] for v in verdicts) / len(verdicts),
        "first": sum(v["first"] for v in verdicts) / max(given, 1),
        "found": sum(v["found"] for v in verdicts) / len(verdicts),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    scores = asyncio.run(run(args.show_misses))
    print(f"{'language':<10}{'n':>4}{'accuracy':>10}{'first cite':>12}{'retrieved':>11}")
    for language, score in scores.items():
        print(
            f"{language:<10}{score['n']:>4}{score['right']:>10.2f}{score['first']:>12.2f}"
            f"{score['found']:>11.2f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
