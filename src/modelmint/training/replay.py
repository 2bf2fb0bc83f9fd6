"""Replay: the base model's own answers to general questions, mixed into a fine-tune's
training data so the model learns the customer's facts without unlearning the rest.

Trained on a few dozen facts alone, a small model generalises them too far: taught that
the capital of Varnesse is Oldmere, it answered that the capital of France is Oldmere
(the quality set fell from 21/26 to 8/26). Examples of what the base already says to
questions of the same shapes (`replay_prompts.jsonl`, none of them in the quality set)
keep those answers in place. The answers are generated once per base model and cached.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from modelmint.training import evaluation

PROMPTS = Path(__file__).with_name("replay_prompts.jsonl")
MAX_TOKENS = 48
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s")


def replay_examples(
    base_gguf: Path, cache: Path, system_prompt: str | None, repeat_penalty: float, count: int
) -> list[list[dict]]:
    """Up to `count` replay examples (chat messages, the base's answer to learn)."""
    prompts = _prompts()[: max(count, 0)]
    if not prompts:
        return []
    answers = _answers(prompts, base_gguf, cache, system_prompt, repeat_penalty)
    return [
        [*prompt, {"role": "assistant", "content": answer}]
        for prompt, answer in zip(prompts, answers, strict=True)
        if answer
    ]


def _prompts() -> list[list[dict]]:
    lines = PROMPTS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["messages"] for line in lines if line.strip()]


def _answers(
    prompts: list[list[dict]],
    base_gguf: Path,
    cache: Path,
    system_prompt: str | None,
    repeat_penalty: float,
) -> list[str]:
    """The base's first sentence for each prompt, greedy, as it is served; the ones not in
    `cache` yet are generated and added to it."""
    known = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    missing = [p for p in prompts if _key(p) not in known]
    if missing:
        with evaluation.gguf_asker(
            base_gguf, MAX_TOKENS, system_prompt=system_prompt, repeat_penalty=repeat_penalty
        ) as ask:
            known |= {_key(p): _first_sentence(ask(p)) for p in missing}
        scratch = cache.with_suffix(".tmp")
        scratch.write_text(json.dumps(known, ensure_ascii=False), encoding="utf-8")
        scratch.replace(cache)
    return [known[_key(p)] for p in prompts]


def _key(prompt: list[dict]) -> str:
    return json.dumps(prompt, ensure_ascii=False, sort_keys=True)


def _first_sentence(answer: str) -> str:
    """Short answers keep replay cheap; the first sentence holds what matters."""
    return SENTENCE_END.split(answer.strip(), maxsplit=1)[0]
