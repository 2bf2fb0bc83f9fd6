"""One fine-tuning job of an embeddings model, as a worker thread runs it: the job makes a
text classifier (`recipes/text_classifier.py`) that `/v1/classify` serves by name.

The files are OpenAI's chat fine-tuning format, read as classification examples
(`classifier_data.py`): the user turns are the text and the last assistant turn is its
label, so

    {"messages": [{"role": "user", "content": "Where is my parcel?"},
                  {"role": "assistant", "content": "shipping"}]}

teaches the label `shipping`. Steps: validate the files (the texts redacted under the
org's privacy policy; labels are kept as written), hold the budget, embed the texts, fit
the head, measure it on the validation file (or on held-out examples), write the result
files, register the model and bill. The trained tokens billed are the tokens of the
training texts as the embeddings model read them (Chinese glossed for a model that reads
none, as classify reads it), each text once; measuring is not billed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelmint.knowledge.evidence import language_of
from modelmint.knowledge.glossary import Glossary
from modelmint.runtime.linear_head import LinearHead
from modelmint.runtime.sentence_encoder import SentenceEncoder
from modelmint.store.fine_tuning import JobRecord
from modelmint.training.chat_dataset import DatasetError
from modelmint.training.classifier_data import (
    Labelled,
    check_labels,
    held_out,
    read_labelled,
)
from modelmint.training.fine_tune import (
    HELD_OUT_FROM,
    JobFailed,
    JobIO,
    Redactor,
    Tally,
    file_lines,
    pauser,
    save_results,
    succeeded,
)
from modelmint.training.jobs import Hyperparameters
from modelmint.training.recipes.text_classifier import HeadProgress, fit_head

ENCODE_REPORT_EVERY = 512  # texts between progress events while embedding


@dataclass(frozen=True, slots=True)
class ClassifierSetup:
    """Where a classifier job's base model and result live."""

    encoder_path: Path  # the embeddings model's sentence-transformers folder
    model_path: Path  # the head to write (.npz)
    model_name: str  # ft:{base}:{org}:{suffix}:{id}
    gloss_chinese: bool  # the base reads no Chinese: texts are glossed, as classify does
    pii_mode: str = "off"
    threads: int = 0  # 0: every core


def run_classifier_fit(job: JobRecord, setup: ClassifierSetup, io: JobIO, tally: Tally) -> None:
    encoder = SentenceEncoder.load(setup.encoder_path, setup.threads or os.cpu_count() or 1)
    train, valid, on = _validated(job, setup, io)
    names = sorted(set(train.labels))
    train = _readable(setup, train)
    tokens = sum(min(n, encoder.max_tokens) for n in encoder.count_tokens(train.texts))
    io.event(io.hold(tokens))
    io.update(status="queued")
    io.event("Fine-tuning job queued.")
    io.update(status="running")
    io.event(f"Embedding {len(train)} training texts with the base model.")
    vectors = _embedded(io, tally, encoder, train.texts)
    if vectors is None:
        return
    tally.trained_tokens = tokens
    targets = np.array([names.index(label) for label in train.labels])
    report, pause = _reporter(io, tally), pauser(io, tally)
    given = Hyperparameters(**job.hyperparameters)
    settings = given.for_classifier(len(train), job.seed)
    io.update(hyperparameters=given.filled(settings.epochs, settings.batch_size or len(train)))
    head = fit_head(vectors, targets, names, settings, report, io.stopping, pause)
    if head is None:
        return
    if on == "training data":
        valid_vectors = vectors
    else:
        valid_vectors = _embedded(io, tally, encoder, _readable(setup, valid).texts)
        if valid_vectors is None:
            return
    summary = _measured(head, valid_vectors, valid.labels, on)
    io.metrics(
        f"Evaluation: accuracy {summary['accuracy']:.3f} on {on} ({len(valid)} texts).",
        {k: summary[k] for k in ("accuracy", "valid_loss", "measured_on", "examples")},
    )
    io.checkpoint(tally.history[-1]["step"], {"train_loss": tally.history[-1]["train_loss"]})
    _register(io, setup, head)
    save_results(io, tally, summary)
    succeeded(io, tally, setup.model_name, f" ({len(names)} labels)")


def _register(io: JobIO, setup: ClassifierSetup, head: LinearHead) -> None:
    """The head written and registered; not left on disk when registering fails (the job
    was cancelled just then)."""
    head.save(setup.model_path)
    try:
        io.register(setup.model_name, setup.model_path)
    except BaseException:
        setup.model_path.unlink(missing_ok=True)
        raise


# validation ---------------------------------------------------------------------------
def _validated(job: JobRecord, setup: ClassifierSetup, io: JobIO) -> tuple[Labelled, Labelled, str]:
    """The training examples, and those the classifier is measured on with what they are."""
    redactor = Redactor(setup.pii_mode)
    io.event("Validating training file: " + job.training_file)
    train = _read(io, job.training_file, "training_file", redactor)
    try:
        check_labels(train)
    except DatasetError as error:
        raise JobFailed(
            "invalid_file_format", f"training_file {job.training_file}: {error}.", "training_file"
        ) from None
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
    elif len(train) >= HELD_OUT_FROM:
        train, valid = held_out(train)
        on = "held-out examples"
        io.event(
            f"No validation file: {len(valid)} examples (every tenth of each label) are held "
            "out to measure the classifier."
        )
    else:
        valid, on = train, "training data"
    if redactor.enabled:
        io.event(redactor.report(), {"pii_mode": setup.pii_mode, "replaced": redactor.replaced})
    labels = sorted(set(train.labels))
    io.event(
        f"Files validated: {len(train)} training examples, {len(labels)} labels.",
        {"examples": len(train), "labels": labels},
    )
    return train, valid, on


def _read(io: JobIO, file_id: str, param: str, redactor: Redactor) -> Labelled:
    try:
        data = read_labelled(file_lines(io.read_file(file_id)))
    except DatasetError as error:
        raise JobFailed("invalid_file_format", f"{param} {file_id}: {error}", param) from None
    if not redactor.enabled:
        return data
    return Labelled([redactor.text(text) for text in data.texts], data.labels)


# embedding and fitting ----------------------------------------------------------------
def _readable(setup: ClassifierSetup, data: Labelled) -> Labelled:
    """The texts as the base model reads them: Chinese glossed for a model that reads none."""
    if not setup.gloss_chinese or not any(language_of(t) == "zh" for t in data.texts):
        return data
    glossary = Glossary()
    texts = [glossary.gloss(t) if language_of(t) == "zh" else t for t in data.texts]
    return Labelled(texts, data.labels)


def _embedded(
    io: JobIO, tally: Tally, encoder: SentenceEncoder, texts: list[str]
) -> np.ndarray | None:
    """The texts' unit vectors; None when the job was stopped."""
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
