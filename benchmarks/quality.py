"""The quality set: factual and instruction questions with expected substrings.

Runs every question of the quality set (`modelmint/training/quality_set.jsonl`, or
`--set FILE` in either form `modelmint.training.evaluation.load_set` reads) through an
OpenAI-compatible chat endpoint with the server's default sampling and prints the pass
rate. The questions and the rule that passes an answer are those of
`modelmint.training.evaluation`, which a fine-tuning job's evaluation uses too.

    python benchmarks/quality.py --base-url http://127.0.0.1:8000/v1 --model default
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modelmint.training.evaluation import QUALITY_SET, Question, Result, load_set

load_questions = load_set  # the quality set's questions (tests/e2e imports this name)


def run_quality(
    client,
    model: str,
    max_tokens: int = 96,
    workers: int = 1,
    questions: list[Question] | None = None,
    **sampling,
) -> list[Result]:
    """`client` is an `openai.OpenAI`. One question at a time by default: batched with
    others, a greedy answer can differ in the last bits of its logits, and so in words."""

    def ask(question: Question) -> Result:
        response = client.chat.completions.create(
            model=model, messages=question.messages, max_tokens=max_tokens, **sampling
        )
        answer = response.choices[0].message.content or ""
        return Result(question.id, question.passes(answer), answer)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(ask, questions or load_set()))


def main() -> int:
    from openai import OpenAI

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="default")
    parser.add_argument("--set", type=Path, default=QUALITY_SET, help="a set file (JSONL)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("MODELMINT_API_KEY", "not-needed"),
        help="an inference key (default: $MODELMINT_API_KEY)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="questions asked at once (default 1: repeatable)"
    )
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("-v", "--verbose", action="store_true", help="print every answer")
    args = parser.parse_args()
    sampling = {} if args.temperature is None else {"temperature": args.temperature}
    client = OpenAI(base_url=args.base_url, api_key=args.api_key)
    questions = load_set(args.set)
    results = run_quality(client, args.model, workers=args.workers, questions=questions, **sampling)
    for result in results:
        if args.verbose or not result.passed:
            mark = "PASS" if result.passed else "FAIL"
            print(f"{mark} {result.id}: {result.answer[:120]!r}")
    passed = sum(r.passed for r in results)
    print(f"quality: {passed}/{len(results)} passed ({passed / len(results):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
