"""One fine-tuning job from its files to a served model, as a worker thread runs it:
validate the files (and redact them under the org's privacy policy), hold the budget,
train the LoRA adapter from the last checkpoint, merge and write the GGUF, evaluate it
next to the base model, write the result files, register the model and bill.

Everything outside the thread (the job's row, events, files, billing) is reached through
`JobIO`, which the worker provides; this module owns only the order of the steps and what
each reports.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any, Protocol

from modelmint.core.ids import utcnow
from modelmint.privacy.placeholders import Placeholders
from modelmint.runtime.chat_template import with_system_prompt
from modelmint.store.fine_tuning import JobRecord
from modelmint.training import evaluation
from modelmint.training.chat_dataset import ChatDataset, DatasetError, read_chat_dataset
from modelmint.training.deploy import merged_gguf
from modelmint.training.jobs import Hyperparameters
from modelmint.training.recipes.lora import LoraSettings, Progress, resumable_step, train
from modelmint.training.replay import replay_examples

logger = logging.getLogger(__name__)
HELD_OUT_FROM = 100  # with this many examples and no validation file, 10% are held out
CSV_COLUMNS = ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]


class JobFailed(Exception):
    """The job cannot go on; `code`, `message` and `param` become the job's `error`."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


class JobIO(Protocol):
    """What the pipeline asks of the worker; every call is safe from the worker thread."""

    def event(
        self, message: str, data: dict[str, Any] | None = None, level: str = "info"
    ) -> None: ...
    def metrics(self, message: str, data: dict[str, Any]) -> None: ...
    def update(self, **values: Any) -> None: ...
    def checkpoint(self, step: int, metrics: dict[str, Any]) -> None: ...
    def stopping(self) -> bool: ...
    def pause(self) -> float: ...  # wait while serving needs the CPU; the seconds waited
    def read_file(self, file_id: str) -> Iterator[bytes]: ...
    def hold(self, worst_tokens: int) -> str: ...  # a line saying what was held
    def bill(self, trained_tokens: int, compute_seconds: float, cancelled: bool) -> None: ...
    def save_result(self, filename: str, content: bytes) -> str: ...
    def register(self, model_id: str, path: Path) -> None: ...


class QualityCache:
    """The base model's quality-set score, measured once per worker and base."""

    def __init__(self) -> None:
        self._scores: dict[tuple, Any] = {}

    def base_score(self, setup: JobSetup, questions: list, pause: Callable[[], None]) -> Any:
        key = (setup.base_gguf, setup.quality_set, setup.system_prompt, setup.repeat_penalty)
        if key not in self._scores:
            with _asker(setup, setup.base_gguf) as ask:
                self._scores[key] = evaluation.score(questions, _pausing(ask, pause))
        return self._scores[key]


def _asker(setup: JobSetup, gguf: Path) -> Any:
    """Greedy answers from `gguf` with the server's system prompt and repeat penalty."""
    return evaluation.gguf_asker(
        gguf, system_prompt=setup.system_prompt, repeat_penalty=setup.repeat_penalty
    )


def _pausing(ask: evaluation.Ask, pause: Callable[[], None]) -> evaluation.Ask:
    def asked(messages: list[dict]) -> str:
        pause()
        return ask(messages)

    return asked


def pauser(io: JobIO, tally: Tally) -> Callable[[], None]:
    """`io.pause`, its waits kept off the job's compute seconds."""

    def pause() -> None:
        tally.paused += io.pause()

    return pause


@dataclass(frozen=True, slots=True)
class JobSetup:
    """Where the job's base model and work live, and what the worker decided."""

    base_gguf: Path
    base_checkpoint: Path  # the base exported to a Hugging Face folder
    context_length: int
    work_dir: Path  # checkpoints and the adapter
    model_path: Path  # the GGUF to write
    model_name: str  # ft:{base}:{org}:{suffix}:{id}
    system_prompt: str | None = None  # what serving puts first when a chat has none
    repeat_penalty: float = 1.0  # the base's serving default, for the evaluation
    quality_set: Path | None = None  # None: the shipped quality set
    pii_mode: str = "off"
    replay: float = 1.0  # base-model examples mixed in per customer example (replay.py)
    replay_cache: Path | None = None  # where the base's replay answers are kept
    quant: str = "base"
    checkpoint_every: int = 10
    quality: QualityCache = field(default_factory=lambda: QualityCache())


@dataclass
class Tally:
    """What the job has trained so far: what a failed or cancelled job is billed for."""

    trained_tokens: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per step
    started: float = field(default_factory=time.perf_counter)
    paused: float = 0.0  # seconds left to serving: not the job's compute

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started - self.paused


def run_fine_tune(job: JobRecord, setup: JobSetup, io: JobIO, tally: Tally) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(setup.base_checkpoint, local_files_only=True)
    train_set, valid_set = _validated(job, setup, io, tokenizer)
    given = Hyperparameters(**job.hyperparameters)
    settings = given.resolved(len(train_set.examples), job.seed)
    settings = _with_checkpoints(settings, setup.checkpoint_every)
    io.update(hyperparameters=given.filled(settings.n_epochs or 1, settings.batch_size))
    worst = train_set.tokens * (settings.n_epochs or 1)
    io.event(io.hold(worst))
    io.update(status="queued")
    io.event("Fine-tuning job queued.")
    io.update(status="running")
    replay = _replay(setup, io, len(train_set.examples))
    examples = [served(e.messages, setup.system_prompt) for e in train_set.examples]
    examples += [served(messages, setup.system_prompt) for messages in replay]
    trained = _train(setup, io, tally, train_set, settings, examples)
    if trained is None:  # stopped: cancelled, or another worker has the job now
        return
    io.event("Training finished; merging the adapter and writing the model.")
    valid = _validation(setup, trained, valid_set, train_set)
    merged_gguf(setup.base_gguf, setup.base_checkpoint, trained.adapter, setup.model_path,
                setup.quant, examples)  # fmt: skip
    summary = _evaluate(setup, io, valid, pauser(io, tally))
    save_results(io, tally, summary)
    io.register(setup.model_name, setup.model_path)
    succeeded(io, tally, setup.model_name)


def succeeded(io: JobIO, tally: Tally, model_name: str, detail: str = "") -> None:
    """A job's last step once its model is registered: bill it, and say it succeeded."""
    io.bill(tally.trained_tokens, tally.seconds, cancelled=False)
    io.update(
        status="succeeded",
        fine_tuned_model=model_name,
        trained_tokens=tally.trained_tokens,
        finished_at=utcnow(),
        estimated_finish=None,
    )
    io.event(f"The job has successfully completed: {model_name}{detail}.")


def _with_checkpoints(settings: LoraSettings, every: int) -> LoraSettings:
    from dataclasses import replace

    return replace(settings, checkpoint_every=every)


# validation ---------------------------------------------------------------------------
def _validated(
    job: JobRecord, setup: JobSetup, io: JobIO, tokenizer: Any
) -> tuple[ChatDataset, ChatDataset | None]:
    io.event("Validating training file: " + job.training_file)
    counter = _token_counter(tokenizer, setup.system_prompt)
    redactor = Redactor(setup.pii_mode)
    train_set = _read(io, job.training_file, "training_file", counter, setup, redactor)
    valid_set = None
    if job.validation_file:
        io.event("Validating validation file: " + job.validation_file)
        valid_set = _read(io, job.validation_file, "validation_file", counter, setup, redactor)
    if redactor.enabled:
        io.event(redactor.report(), {"pii_mode": setup.pii_mode, "replaced": redactor.replaced})
    if valid_set is None and len(train_set.examples) >= HELD_OUT_FROM:
        cut = len(train_set.examples) // 10
        valid_set = ChatDataset(train_set.examples[-cut:])
        train_set = ChatDataset(train_set.examples[:-cut])
        io.event(f"No validation file: {cut} examples are held out to measure the model.")
    io.event(
        f"Files validated: {len(train_set.examples)} training examples, "
        f"{train_set.tokens} tokens per epoch.",
        {"examples": len(train_set.examples), "tokens_per_epoch": train_set.tokens},
    )
    return train_set, valid_set


def _read(
    io: JobIO, file_id: str, param: str, counter: Callable, setup: JobSetup, redactor: Redactor
) -> ChatDataset:
    try:
        lines = file_lines(io.read_file(file_id))
        dataset = read_chat_dataset(lines, counter, setup.context_length)
    except DatasetError as error:
        raise JobFailed("invalid_file_format", f"{param} {file_id}: {error}", param) from None
    return redactor.dataset(dataset) if redactor.enabled else dataset


def file_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        rest += chunk
        *whole, rest = rest.split(b"\n")
        yield from whole
    if rest:
        yield rest


def _token_counter(tokenizer: Any, system_prompt: str | None) -> Callable[[list[dict]], int]:
    def count(messages: list[dict]) -> int:
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        text = tokenizer.apply_chat_template(served(plain, system_prompt), tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def served(messages: list[dict], system_prompt: str | None) -> list[dict]:
    """The conversation as the server will show it to the model (a copy), so the model is
    trained the way it will be asked."""
    return with_system_prompt([dict(m) for m in messages], system_prompt)


class Redactor:
    """Personal data in training examples replaced with placeholders, per the org's
    policy (every mode but `off`), so the model never learns a real value."""

    def __init__(self, pii_mode: str) -> None:
        self.enabled = pii_mode != "off"
        self.replaced = 0

    def dataset(self, dataset: ChatDataset) -> ChatDataset:
        from dataclasses import replace

        return ChatDataset(
            [replace(e, messages=self._messages(e.messages)) for e in dataset.examples]
        )

    def text(self, text: str) -> str:
        """One text redacted on its own (a classifier's example: its label is kept)."""
        redacted = Placeholders().redact(text)
        self.replaced += redacted != text
        return redacted

    def _messages(self, messages: list[dict]) -> list[dict]:
        placeholders = Placeholders()  # one example: one set of numbered tags
        out = [{**m, "content": placeholders.redact(m["content"])} for m in messages]
        pairs = zip(out, messages, strict=True)
        self.replaced += sum(a["content"] != b["content"] for a, b in pairs)
        return out

    def report(self) -> str:
        return (
            f"Personal data was redacted from the training data before training (pii_mode), "
            f"in {self.replaced} messages."
        )


# training -----------------------------------------------------------------------------
def _replay(setup: JobSetup, io: JobIO, examples: int) -> list[list[dict]]:
    count = round(examples * setup.replay)
    if count <= 0 or setup.replay_cache is None:
        return []
    found = replay_examples(setup.base_gguf, setup.replay_cache, setup.system_prompt,
                            setup.repeat_penalty, count)  # fmt: skip
    io.event(
        f"Mixed in {len(found)} examples of the base model's own answers to general "
        "questions, so the fine-tune keeps what the base knew; they are not billed.",
        {"replay_examples": len(found)},
    )
    return found


def _train(
    setup: JobSetup,
    io: JobIO,
    tally: Tally,
    train_set: ChatDataset,
    settings: LoraSettings,
    examples: list[list[dict]],
) -> Any:
    """Train on `examples` (the customer's, served as the server asks, and the replay);
    None when the job was stopped."""
    resumed = resumable_step(setup.work_dir)
    io.event(
        f"Resuming from the checkpoint at step {resumed}." if resumed else "Training started.",
        {
            "hyperparameters": {
                "n_epochs": settings.n_epochs,
                "batch_size": settings.batch_size,
                "learning_rate": settings.learning_rate,
            }
        },
    )
    last: list[Progress] = []

    epochs, began = settings.n_epochs or 1, time.perf_counter()

    def progress(step: Progress) -> None:
        last[:] = [step]
        # billed: the customer's tokens of the steps done (replay is ours), exact at the end
        tally.trained_tokens = train_set.tokens * epochs * step.step // step.total_steps
        tally.history.append(_metrics_data(step, tally.trained_tokens))
        per_step = (time.perf_counter() - began) / max(step.step - resumed, 1)
        left = timedelta(seconds=(step.total_steps - step.step) * per_step)
        io.update(trained_tokens=tally.trained_tokens, estimated_finish=utcnow() + left)
        io.metrics(
            f"Step {step.step}/{step.total_steps}: training loss={step.train_loss:.4f}",
            _metrics_data(step, tally.trained_tokens),
        )

    def checkpointed(step: int) -> None:
        if last:
            io.checkpoint(step, _checkpoint_metrics(last[0]))

    trained = train(
        setup.base_checkpoint,
        examples,
        setup.work_dir,
        settings,
        progress,
        io.stopping,
        checkpointed,
        pauser(io, tally),
    )
    if io.stopping():
        return None
    if last:
        io.checkpoint(trained.steps, _checkpoint_metrics(last[0]))
    return trained


def _metrics_data(step: Progress, trained_tokens: int) -> dict[str, Any]:
    return {
        "step": step.step,
        "total_steps": step.total_steps,
        "epoch": round(step.epoch, 3),
        "train_loss": step.train_loss,
        "train_mean_token_accuracy": step.mean_token_accuracy,
        "learning_rate": step.learning_rate,
        "trained_tokens": trained_tokens,
        "tokens_per_second": round(step.tokens_per_second, 1),
    }


def _checkpoint_metrics(step: Progress) -> dict[str, Any]:
    return {
        "step": step.step,
        "train_loss": step.train_loss,
        "train_mean_token_accuracy": step.mean_token_accuracy,
    }


# evaluation and results ---------------------------------------------------------------
@dataclass
class Validation:
    loss: float | None
    accuracy: float | None
    on: str  # what was measured: "validation file", "held-out examples" or "training data"
    history: list[dict[str, Any]] = field(default_factory=list)


def _validation(
    setup: JobSetup, trained: Any, valid_set: ChatDataset | None, train_set: ChatDataset
) -> Validation:
    data, on = (valid_set, "validation data") if valid_set else (train_set, "training data")
    examples = [served(e.messages, setup.system_prompt) for e in data.examples]
    loss, accuracy = evaluation.validation_metrics(setup.base_checkpoint, trained.adapter, examples)
    return Validation(loss, accuracy, on)


def _evaluate(
    setup: JobSetup, io: JobIO, valid: Validation, pause: Callable[[], None]
) -> dict[str, Any]:
    io.event("Evaluating the fine-tuned model on the general quality set, next to the base.")
    questions = evaluation.load_set(setup.quality_set)
    base = setup.quality.base_score(setup, questions, pause)
    with _asker(setup, setup.model_path) as ask:
        tuned = evaluation.score(questions, _pausing(ask, pause))
    summary = {
        "valid_loss": valid.loss,
        "valid_mean_token_accuracy": valid.accuracy,
        "measured_on": valid.on,
        "quality_set": {"fine_tuned": tuned.passed, "base": base.passed, "total": tuned.total},
        "quality_set_results": [
            {"id": r.id, "passed": r.passed, "answer": r.answer} for r in tuned.results
        ],
    }
    io.metrics(
        f"Evaluation: {valid.on} loss={valid.loss:.4f}, token accuracy={valid.accuracy:.3f}; "
        f"quality set {tuned.passed}/{tuned.total} (base {base.passed}/{tuned.total}).",
        {k: v for k, v in summary.items() if k != "quality_set_results"},
    )
    return summary


def save_results(io: JobIO, tally: Tally, summary: dict[str, Any]) -> None:
    ids = [io.save_result("step_metrics.csv", _metrics_csv(tally.history, summary))]
    ids.append(io.save_result("evaluation.json", json.dumps(summary, indent=2).encode()))
    io.update(result_files=ids)


def _metrics_csv(history: list[dict[str, Any]], summary: dict[str, Any]) -> bytes:
    """OpenAI's result file: one row per step, the validation columns on the last."""
    out = StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for index, step in enumerate(history):
        final = index == len(history) - 1
        writer.writerow(
            [
                step["step"],
                f"{step['train_loss']:.6f}",
                f"{step['train_mean_token_accuracy']:.4f}",
                f"{summary['valid_loss']:.6f}" if final else "",
                f"{summary['valid_mean_token_accuracy']:.4f}" if final else "",
            ]
        )
    return out.getvalue().encode()
