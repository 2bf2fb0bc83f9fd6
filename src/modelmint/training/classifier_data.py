"""A classifier job's examples from OpenAI's chat fine-tuning files: each example's user
turns are its text and its last assistant turn is its label. Labels are kept as written,
with runs of white space made one space; two labels that differ only in case are refused,
since they would become two classes that mean one thing.

When no validation file is given, every tenth example of each label is held out to
measure the classifier (from `HELD_OUT_FROM` examples up): within each label, so that a
file sorted by label holds out some of every label, and a label with fewer than ten
examples keeps them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modelmint.training.chat_dataset import DatasetError, read_chat_dataset

MAX_LABELS = 256
MAX_LABEL_CHARS = 200
# a bound on a job's time: 50,000 texts take MiniLM about four minutes to embed here, and
# the fit about as long again with 256 labels
MAX_EXAMPLES = 50_000
NO_LIMIT = 1 << 30  # a long text is embedded by its first part, as the model reads it


@dataclass(frozen=True, slots=True)
class Labelled:
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def picked(self, indexes: Iterable[int]) -> Labelled:
        chosen = list(indexes)
        return Labelled([self.texts[i] for i in chosen], [self.labels[i] for i in chosen])


def read_labelled(lines: Iterable[bytes]) -> Labelled:
    """The examples of a chat JSONL file as texts and labels; `DatasetError` names every
    problem found, by line."""
    dataset = read_chat_dataset(lines, lambda _: 0, NO_LIMIT)
    if len(dataset.examples) > MAX_EXAMPLES:
        raise DatasetError(
            [f"{len(dataset.examples)} examples; a classifier job reads up to {MAX_EXAMPLES} "
             "a file. Sample the file down"]
        )  # fmt: skip
    pairs = [_text_and_label(example.messages, example.line) for example in dataset.examples]
    return Labelled([text for text, _ in pairs], [label for _, label in pairs])


def _text_and_label(messages: list[dict[str, Any]], line: int) -> tuple[str, str]:
    text = "\n".join(m["content"] for m in messages if m["role"] == "user")
    label = " ".join([m["content"] for m in messages if m["role"] == "assistant"][-1].split())
    if not text.strip():
        raise DatasetError([f"line {line}: a classification example needs a user turn (the text)"])
    if len(label) > MAX_LABEL_CHARS:
        raise DatasetError(
            [f"line {line}: the label (the last assistant turn) is over {MAX_LABEL_CHARS} "
             "characters; a classifier's labels are short names"]
        )  # fmt: skip
    return text, label


def check_labels(data: Labelled) -> None:
    """2 to `MAX_LABELS` labels, no two of them the same but for case."""
    labels = sorted(set(data.labels))
    if not 2 <= len(labels) <= MAX_LABELS:
        raise DatasetError(
            [f"the examples have {len(labels)} distinct labels (their last assistant turns); "
             f"a classifier needs 2 to {MAX_LABELS}"]
        )  # fmt: skip
    seen: dict[str, str] = {}
    for label in labels:
        other = seen.setdefault(label.casefold(), label)
        if other != label:
            raise DatasetError(
                [f"the labels {other!r} and {label!r} differ only in case; write one of them "
                 "the same way everywhere"]
            )  # fmt: skip


def held_out(data: Labelled) -> tuple[Labelled, Labelled]:
    """(kept, held): every tenth example of each label held out."""
    seen: dict[str, int] = {}
    held = []
    for index, label in enumerate(data.labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] % 10 == 0:
            held.append(index)
    chosen = set(held)
    return data.picked(i for i in range(len(data)) if i not in chosen), data.picked(held)
