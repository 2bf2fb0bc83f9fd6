"""Fine-tuning data in OpenAI's chat format, checked line by line before a job is queued.

Each line of the JSONL is one example: `{"messages": [{"role", "content", "weight"?}, ...]}`.
Roles are `system`, `user` and `assistant`; `weight` (0 or 1, on assistant turns only)
says whether that turn is trained on. Every problem is reported with its line number and
the field at fault, up to `MAX_PROBLEMS` of them, so a caller fixes a file in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MIN_EXAMPLES = 10
MAX_PROBLEMS = 20
MAX_LINE_BYTES = 1 << 20
ROLES = ("system", "user", "assistant")

Messages = list[dict[str, Any]]


class DatasetError(ValueError):
    """The file cannot be trained on; `problems` says where and why, line by line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    messages: Messages  # each with role, content and weight (1 unless the line says 0)
    tokens: int


@dataclass
class ChatDataset:
    examples: list[Example] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        """Tokens of one pass over the data (trained tokens are this times the epochs)."""
        return sum(example.tokens for example in self.examples)


def read_chat_dataset(
    lines: Iterable[bytes], count_tokens: Callable[[Messages], int], context_length: int
) -> ChatDataset:
    """The examples of `lines`, each measured with `count_tokens` (the model's own chat
    template and tokenizer); `DatasetError` names every problem found."""
    dataset, problems = ChatDataset(), []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            messages = _messages(raw)
            tokens = count_tokens(messages)
            if tokens > context_length:
                raise _Problem(
                    f"the example has {tokens} tokens; the model's context is "
                    f"{context_length}. Shorten it or split it"
                )
            dataset.examples.append(Example(number, messages, tokens))
        except _Problem as problem:
            problems.append(f"line {number}: {problem}")
            if len(problems) >= MAX_PROBLEMS:
                problems.append(f"(stopped after {MAX_PROBLEMS} problems)")
                break
    if not problems and len(dataset.examples) < MIN_EXAMPLES:
        problems.append(
            f"the file has {len(dataset.examples)} examples; fine-tuning needs at least "
            f"{MIN_EXAMPLES}"
        )
    if problems:
        raise DatasetError(problems)
    return dataset


class _Problem(Exception):
    pass


def _messages(raw: bytes) -> Messages:
    if len(raw) > MAX_LINE_BYTES:
        raise _Problem(f"the line is over {MAX_LINE_BYTES} bytes")
    try:
        example = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Problem(f"not valid JSON ({exc})") from None
    if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
        raise _Problem('expected an object with a "messages" list')
    unknown = sorted(set(example) - {"messages"})
    if unknown:
        raise _Problem(f"unknown field {unknown[0]!r}; only \"messages\" is read")
    messages = [_message(i, m) for i, m in enumerate(example["messages"])]
    if not any(m["role"] == "assistant" and m["weight"] for m in messages):
        raise _Problem("messages: no assistant turn to train on (with weight 1)")
    return messages


def _message(index: int, message: Any) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _Problem(f"{where}: expected an object with role and content")
    role, content = message.get("role"), message.get("content")
    if role not in ROLES:
        raise _Problem(f"{where}.role: must be one of {', '.join(ROLES)}, not {role!r}")
    if not isinstance(content, str) or not content.strip():
        raise _Problem(f"{where}.content: must be a non-empty string")
    unknown = sorted(set(message) - {"role", "content", "weight", "name"})
    if unknown:
        raise _Problem(f"{where}.{unknown[0]}: not a field of a chat message")
    weight = message.get("weight", 1)
    if "weight" in message and role != "assistant":
        raise _Problem(f"{where}.weight: only assistant turns have a weight")
    if isinstance(weight, bool) or weight not in (0, 1):
        raise _Problem(f"{where}.weight: must be 0 or 1")
    return {"role": role, "content": content, "weight": weight}
