"""Evaluation: how well a model answers a set of questions, and how well it predicts
held-out chat examples.

It owns the general quality set (`quality_set.jsonl`, shipped with the package), reading
a set file (`load_set`) in either of two forms, scoring any model behind an `ask`
function (`score`), an `ask` for a GGUF on the project's llama.cpp engine (`gguf_asker`)
and the validation loss and token accuracy of a Hugging Face checkpoint with an optional
LoRA adapter (`validation_metrics`). A fine-tuning job ends with these; `modelmint eval`
runs a set against a served model.

A set file is JSONL. Each line is either the quality-set form
`{"id", "question", "expect": [substrings], "case_sensitive"?}` (passes when the answer
contains any expected substring, ignoring case unless `case_sensitive`), or OpenAI's chat
fine-tuning form `{"messages": [...]}`: the question is the messages up to the last
assistant turn, and the answer passes when it contains that turn's content, both
normalized (lowercase, whitespace collapsed, trailing punctuation stripped).
"""

from __future__ import annotations

import asyncio
import json
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUALITY_SET = Path(__file__).with_name("quality_set.jsonl")
ROLES = ("system", "user", "assistant")
QUALITY_FIELDS = {"id", "kind", "question", "expect", "case_sensitive"}

Messages = list[dict[str, str]]
Ask = Callable[[Messages], str]


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    messages: Messages  # what the model is asked: role and content only
    expect: tuple[str, ...]  # any of these substrings; for the chat form, the one answer
    case_sensitive: bool = False
    whole_answer: bool = False  # the chat form: the normalized answer must contain it
    kind: str = ""

    def passes(self, answer: str) -> bool:
        if self.whole_answer:
            return normalize(self.expect[0]) in normalize(answer)
        if self.case_sensitive:
            return any(expected in answer for expected in self.expect)
        return any(expected.lower() in answer.lower() for expected in self.expect)


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    passed: bool
    answer: str


@dataclass(frozen=True, slots=True)
class Score:
    results: list[Result]

    @property
    def passed(self) -> int:
        return sum(result.passed for result in self.results)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def normalize(text: str) -> str:
    """Lowercase, whitespace collapsed, trailing punctuation stripped."""
    text = " ".join(text.lower().split())
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1].rstrip()
    return text


def load_set(path: Path | None = None) -> list[Question]:
    """The questions of the set file at `path` (the quality set by default). A bad line
    raises ValueError naming its number and what is wrong."""
    path = path or QUALITY_SET
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = _question(line, number)
        except _Bad as bad:
            raise ValueError(f"{path}, line {number}: {bad}") from None
        if question.id in seen:
            raise ValueError(f"{path}, line {number}: the id {question.id!r} is used twice")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise ValueError(f"{path}: the set has no questions")
    return questions


class _Bad(Exception):
    pass


def _question(line: str, number: int) -> Question:
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise _Bad(f"not valid JSON ({exc})") from None
    if not isinstance(item, dict):
        raise _Bad('expected an object with "messages", or with "id", "question", "expect"')
    if "messages" in item:
        return _chat_question(item, number)
    return _quality_question(item)


def _quality_question(item: dict[str, Any]) -> Question:
    unknown = sorted(set(item) - QUALITY_FIELDS)
    if unknown:
        raise _Bad(f"unknown field {unknown[0]!r}; expected id, question, expect, case_sensitive")
    for name in ("id", "question"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise _Bad(f"{name}: must be a non-empty string")
    expect = item.get("expect")
    if not isinstance(expect, list) or not expect:
        raise _Bad("expect: must be a non-empty list of strings")
    if not all(isinstance(e, str) and e for e in expect):
        raise _Bad("expect: every entry must be a non-empty string")
    if not isinstance(item.get("case_sensitive", False), bool):
        raise _Bad("case_sensitive: must be true or false")
    return Question(
        item["id"],
        [{"role": "user", "content": item["question"]}],
        tuple(expect),
        case_sensitive=item.get("case_sensitive", False),
        kind=str(item.get("kind", "")),
    )


def _chat_question(item: dict[str, Any], number: int) -> Question:
    unknown = sorted(set(item) - {"messages"})
    if unknown:
        raise _Bad(f'unknown field {unknown[0]!r}; the chat form has only "messages"')
    messages = item["messages"]
    if not isinstance(messages, list) or not messages:
        raise _Bad("messages: must be a non-empty list")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _Bad(f"{where}: expected an object with role and content")
        if message.get("role") not in ROLES:
            raise _Bad(f"{where}.role: must be one of {', '.join(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise _Bad(f"{where}.content: must be a string")
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        raise _Bad("messages: no assistant turn to take the expected answer from")
    if not any(m["role"] == "user" for m in messages[:last]):
        raise _Bad("messages: no user turn before the last assistant turn")
    expected = messages[last]["content"]
    if not normalize(expected):
        raise _Bad(f"messages[{last}].content: the expected answer is empty")
    asked = [{"role": m["role"], "content": m["content"]} for m in messages[:last]]
    return Question(f"line-{number}", asked, (expected,), whole_answer=True, kind="chat")


def score(
    questions: list[Question], ask: Ask, on_result: Callable[[Result], None] | None = None
) -> Score:
    """Ask every question, one at a time, and check its answer; `on_result` hears each."""
    results = []
    for question in questions:
        answer = ask([dict(message) for message in question.messages])
        result = Result(question.id, question.passes(answer), answer)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return Score(results)


@contextmanager
def gguf_asker(
    path: Path,
    max_tokens: int = 96,
    *,
    system_prompt: str | None = None,
    repeat_penalty: float = 1.0,
) -> Iterator[Ask]:
    """An `ask` for the GGUF at `path` on the llama.cpp engine, greedy (temperature 0).
    The engine runs on a private event loop, so the caller may be any plain thread (not
    a coroutine: from async code, enter and ask through `asyncio.to_thread`).
    `system_prompt` is used when a question has none (None: the GGUF's own); pass the
    served model's `default_system_prompt` and `defaults["repeat_penalty"]` to score it
    as it will answer (SmolLM2: 21/26 on the quality set so, 18/26 without)."""
    from modelmint.runtime.engine import SamplingParams
    from modelmint.runtime.llamacpp.engine import LlamaCppEngine

    engine = LlamaCppEngine(
        path,
        context_length=2048,
        parallel=1,
        prompt_cache_mb=0,
        default_system_prompt=system_prompt,
    )
    params = SamplingParams(max_tokens=max_tokens, temperature=0, repeat_penalty=repeat_penalty)
    lock = threading.Lock()
    with asyncio.Runner() as runner:
        runner.run(engine.start())
        try:

            def ask(messages: Messages) -> str:
                with lock:
                    return runner.run(_answer(engine, messages, params))

            yield ask
        finally:
            runner.run(engine.close())


async def _answer(engine: Any, messages: Messages, params: Any) -> str:
    from modelmint.runtime.engine import GenerationRequest, Meter, TextDelta

    work = engine.measure(GenerationRequest(params, messages=messages))
    parts = [e.text async for e in engine.generate(work, Meter()) if isinstance(e, TextDelta)]
    return "".join(parts).strip()


def validation_metrics(
    model_dir: Path,
    adapter: Path | None,
    examples: list[Messages],
    batch_size: int = 8,
) -> tuple[float, float]:
    """(loss, mean token accuracy) over the trained assistant tokens of `examples`, for
    the checkpoint in `model_dir` with `adapter` on top: each the mean over all those
    tokens, as training computes them per batch (recipes/lora.py)."""
    import torch

    from modelmint.training.recipes.lora import (
        IGNORE,
        LoraSettings,
        collate,
        encode,
        loss_and_accuracy,
    )

    tokenizer, model = _load_for_eval(model_dir, adapter)
    length = LoraSettings().max_length
    data = [encode(tokenizer, messages, length) for messages in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    loss_sum, right, counted = 0.0, 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = collate(data[start : start + batch_size], pad)
            tokens = int(batch["labels"][:, 1:].ne(IGNORE).sum().item())
            if tokens == 0:
                continue
            loss, accuracy = loss_and_accuracy(model, batch)
            loss_sum += loss.item() * tokens
            right += accuracy * tokens
            counted += tokens
    if counted == 0:
        raise ValueError("the examples have no assistant tokens to evaluate")
    return loss_sum / counted, right / counted


def _load_for_eval(model_dir: Path, adapter: Path | None) -> tuple[Any, Any]:
    """The tokenizer and the model in eval mode, with `adapter` loaded if given."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    return tokenizer, model.eval()
