"""One fine-tuning job of an embeddings model, as a worker thread runs it: the job makes a
text classifier (`recipes/text_classifier.py`) that `/v1/classify` serves by name.

The files are OpenAI's chat fine-tuning format, read as classification examples: the
user turns are the text and the last assistant turn is its label, so

    {"messages": [{"role": "user", "content": "Where is my parcel?"},
                  {"role": "assistant", "content": "shipping"}]}

teaches the label `shipping`. Steps: validate the files (redacted under the org's privacy
policy), hold the budget, embed the texts, fit the head, measure it on the validation
file (or on held-out examples), write the result files, register the model and bill. The
trained tokens billed are the tokens the embeddings model read, each text once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelmint.core.ids import utcnow
from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.glossary import Glossary
from modelmint.runtime.linear_head import LinearHead
from modelmint.runtime.sentence_encoder import SentenceEncoder
from modelmint.store.fine_tuning import JobRecord
from modelmint.training.chat_dataset import DatasetError, read_chat_dataset
from modelmint.training.fine_tune import (
    HELD_OUT_FROM,
    JobFailed,
    JobIO,
    Redactor,
    Tally,
    file_lines,
    save_results,
)
from modelmint.training.recipes.text_classifier import HeadProgress, HeadSettings, fit_head

MAX_LABELS = 256
# a bound on a job's time: 50,000 texts take MiniLM about four minutes to embed here, and
# the fit about as long again with 256 labels
MAX_EXAMPLES = 50_000
MAX_LABEL_CHARS = 200
ENCODE_REPORT_EVERY = 512  # texts between progress events while embedding
NO_LIMIT = 1 << 30  # a long text is embedded by its first part, as the model reads it


@dataclass(frozen=True, slots=True)
class ClassifierSetup:
    """Where a classifier job's base model and result live."""

    encoder_path: Path  # the embeddings model's sentence-transformers folder
    model_path: Path  # the head to write (.npz)
    model_name: str  # ft:{base}:{org}:{suffix}:{id}
    gloss_chinese: bool  # the base reads no Chinese: texts are glossed, as classify does
    pii_mode: str = "off"
    threads: int = 0  # 0: every core


@dataclass(frozen=True, slots=True)
class Labelled:
    texts: list[str]
    labels: list[str]


def run_classifier_fit(job: JobRecord, setup: ClassifierSetup, io: JobIO, tally: Tally) -> None:
    encoder = SentenceEncoder.load(setup.encoder_path, setup.threads or os.cpu_count() or 1)
    train, valid, on = _validated(job, setup, io, encoder)
    names = sorted(set(train.labels))
    tokens = _tokens(encoder, train.texts)
    valid_tokens = _tokens(encoder, valid.texts) if on != "training data" else 0
    io.event(io.hold(tokens + valid_tokens))
    io.update(status="queued")
    io.event("Fine-tuning job queued.")
    io.update(status="running")
    io.event(f"Embedding {len(train.texts)} training texts with the base model.")
    vectors = _embedded(io, tally, encoder, setup, train.texts)
    if vectors is None:
        return
    tally.trained_tokens = tokens
    targets = np.array([names.index(label) for label in train.labels])
    head = fit_head(vectors, targets, names, HeadSettings(), _reporter(io, tally), io.stopping)
    if head is None:
        return
    if on == "training data":
        valid_vectors = vectors
    else:
        valid_vectors = _embedded(io, tally, encoder, setup, valid.texts)
        if valid_vectors is None:
            return
    summary = _measured(head, valid_vectors, valid.labels, on)
    io.metrics(
        f"Evaluation: accuracy {summary['accuracy']:.3f} on {on} ({len(valid.labels)} texts).",
        {k: summary[k] for k in ("accuracy", "valid_loss", "measured_on", "examples")},
    )
    io.checkpoint(tally.history[-1]["step"], {"train_loss": tally.history[-1]["train_loss"]})
    head.save(setup.model_path)
    save_results(io, tally, summary)
    io.register(setup.model_name, setup.model_path)
    io.bill(tally.trained_tokens, tally.seconds, cancelled=False)
    io.update(
        status="succeeded",
        fine_tuned_model=setup.model_name,
        trained_tokens=tally.trained_tokens,
        finished_at=utcnow(),
        estimated_finish=None,
    )
    io.event(f"The job has successfully completed: {setup.model_name} ({len(names)} labels).")


# validation ---------------------------------------------------------------------------
def _validated(
    job: JobRecord, setup: ClassifierSetup, io: JobIO, encoder: SentenceEncoder
) -> tuple[Labelled, Labelled, str]:
    """The training examples, and those the classifier is measured on with what they are."""
    redactor = Redactor(setup.pii_mode)
    io.event("Validating training file: " + job.training_file)
    train = _read(io, job.training_file, "training_file", redactor)
    _check_labels(train, job.training_file)
    if job.validation_file:
        io.event("Validating validation file: " + job.validation_file)
        valid, on = _read(io, job.validation_file, "validation_file", redactor), "validation data"
        unknown = sorted(set(valid.labels) - set(train.labels))
        if unknown:
            raise JobFailed(
                "invalid_file_format",
                f"validation_file {job.validation_file}: the label {unknown[0]!r} is not in "
                "the training file; a classifier answers only labels it was trained on.",
                "validation_file",
            )
    elif len(train.texts) >= HELD_OUT_FROM:
        # every tenth example, not the last tenth: a file sorted by label would otherwise
        # hold out one label only
        kept, held = _every_tenth(train)
        train, valid, on = kept, held, "held-out examples"
        io.event(
            f"No validation file: {len(held.texts)} examples (every tenth) are held out to "
            "measure the classifier."
        )
    else:
        valid, on = train, "training data"
    if redactor.enabled:
        io.event(redactor.report(), {"pii_mode": setup.pii_mode, "replaced": redactor.replaced})
    labels = sorted(set(train.labels))
    io.event(
        f"Files validated: {len(train.texts)} training examples, {len(labels)} labels.",
        {"examples": len(train.texts), "labels": labels},
    )
    return train, valid, on


def _every_tenth(data: Labelled) -> tuple[Labelled, Labelled]:
    held = range(9, len(data.texts), 10)
    kept = [i for i in range(len(data.texts)) if i % 10 != 9]
    return (
        Labelled([data.texts[i] for i in kept], [data.labels[i] for i in kept]),
        Labelled([data.texts[i] for i in held], [data.labels[i] for i in held]),
    )


def _read(io: JobIO, file_id: str, param: str, redactor: Redactor) -> Labelled:
    try:
        dataset = read_chat_dataset(file_lines(io.read_file(file_id)), lambda _: 0, NO_LIMIT)
        pairs = [_text_and_label(example.messages, example.line) for example in dataset.examples]
    except DatasetError as error:
        raise JobFailed("invalid_file_format", f"{param} {file_id}: {error}", param) from None
    if len(pairs) > MAX_EXAMPLES:
        raise JobFailed(
            "invalid_file_format",
            f"{param} {file_id}: {len(pairs)} examples; a classifier job reads up to "
            f"{MAX_EXAMPLES} a file. Sample the file down.",
            param,
        )
    if redactor.enabled:
        dataset = redactor.dataset(dataset)
        pairs = [_text_and_label(example.messages, example.line) for example in dataset.examples]
    return Labelled([text for text, _ in pairs], [label for _, label in pairs])


def _text_and_label(messages: list[dict[str, Any]], line: int) -> tuple[str, str]:
    text = "\n".join(m["content"] for m in messages if m["role"] == "user")
    label = [m["content"] for m in messages if m["role"] == "assistant"][-1].strip()
    if not text.strip():
        raise DatasetError([f"line {line}: a classification example needs a user turn (the text)"])
    if len(label) > MAX_LABEL_CHARS:
        raise DatasetError(
            [f"line {line}: the label (the last assistant turn) is over {MAX_LABEL_CHARS} "
             "characters; a classifier's labels are short names"]
        )  # fmt: skip
    return text, label


def _check_labels(data: Labelled, file_id: str) -> None:
    count = len(set(data.labels))
    if 2 <= count <= MAX_LABELS:
        return
    raise JobFailed(
        "invalid_file_format",
        f"training_file {file_id}: the examples have {count} distinct labels (their last "
        f"assistant turns); a classifier needs 2 to {MAX_LABELS}.",
        "training_file",
    )


# embedding and fitting ----------------------------------------------------------------
def _tokens(encoder: SentenceEncoder, texts: list[str]) -> int:
    return sum(min(n, encoder.max_tokens) for n in encoder.count_tokens(texts))


def _embedded(
    io: JobIO, tally: Tally, encoder: SentenceEncoder, setup: ClassifierSetup, texts: list[str]
) -> np.ndarray | None:
    """The texts' unit vectors (Chinese glossed for a base that reads none); None when
    the job was stopped."""
    if setup.gloss_chinese and any(language_of(t) == "zh" for t in texts):
        glossary = Glossary()
        texts = [glossary.gloss(t) if language_of(t) == "zh" else t for t in texts]
    lengths = encoder.count_tokens(texts)
    rows = np.empty((len(texts), encoder.dimensions), dtype=np.float32)
    done = reported = 0
    for picked, vectors in encoder.encode_batches(texts, lengths):
        rows[picked] = vectors
        done += len(picked)
        tally.paused += io.pause()
        if io.stopping():
            return None
        if done - reported >= ENCODE_REPORT_EVERY:
            reported = done
            io.event(f"Embedded {done}/{len(texts)} texts.", {"embedded": done})
    return rows


def _reporter(io: JobIO, tally: Tally):
    def report(step: HeadProgress) -> None:
        row = {
            "step": step.step,
            "total_steps": step.total_steps,
            "train_loss": step.loss,
            "train_mean_token_accuracy": step.accuracy,
            "trained_tokens": tally.trained_tokens,
        }
        tally.history.append(row)
        io.metrics(
            f"Step {step.step}/{step.total_steps}: training loss={step.loss:.4f}, "
            f"accuracy={step.accuracy:.3f}",
            row,
        )

    return report


def _measured(head: LinearHead, vectors: np.ndarray, labels: list[str], on: str) -> dict[str, Any]:
    """Accuracy and loss on the measured examples, and accuracy per label."""
    probabilities = head.probabilities(vectors)
    targets = np.array([head.labels.index(label) for label in labels])
    picked = probabilities[np.arange(len(targets)), targets]
    right = probabilities.argmax(axis=1) == targets
    per_label = {
        label: round(float(right[targets == i].mean()), 4)
        for i, label in enumerate(head.labels)
        if (targets == i).any()
    }
    accuracy = float(right.mean())
    return {
        "accuracy": round(accuracy, 4),
        "valid_loss": float(-np.log(np.maximum(picked, 1e-12)).mean()),
        "valid_mean_token_accuracy": accuracy,
        "measured_on": on,
        "examples": len(labels),
        "accuracy_per_label": per_label,
        "labels": head.labels,
    }
