"""LoRA on a chat model: peft adapters on every linear layer, trained on the assistant
turns only (the prompt and the turns with weight 0 add no loss).

One readable loop. `accelerate` places it: a CPU process here, several GPUs under
`accelerate launch` (each process takes its share of every batch). It is seeded, so the
same data and settings give the same adapter, and it saves a checkpoint (the adapter's
weights, the optimizer, the schedule, the step) every `checkpoint_every` steps, from which
`train` resumes.

Defaults are those that small chat models take well in LLaMA-Factory and Axolotl: rank
16 and alpha 32 on all linear layers, AdamW at 2e-3 decaying linearly after a short
warm-up, batches of 8, and epochs chosen from the data size when not given.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE = -100  # the label of a token that adds no loss
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True, slots=True)
class LoraSettings:
    n_epochs: int | None = None  # None: from the data size (`auto_epochs`)
    batch_size: int = 8
    learning_rate: float = 2e-3
    rank: int = 16
    alpha: int = 32
    warmup_steps: int = 2
    max_length: int = 1024
    seed: int = 0
    checkpoint_every: int = 25  # steps; 0: only at the end


@dataclass(frozen=True, slots=True)
class Progress:
    """One optimizer step, as a job's `metrics` event reports it."""

    step: int
    total_steps: int
    epoch: float
    train_loss: float
    mean_token_accuracy: float
    learning_rate: float
    trained_tokens: int  # tokens seen so far (prompt and answer), counted once each
    tokens_per_second: float


@dataclass(frozen=True, slots=True)
class Trained:
    adapter: Path
    steps: int
    trained_tokens: int
    train_loss: float


def auto_epochs(examples: int) -> int:
    """Few examples need more passes to be learnt; many need fewer."""
    if examples <= 100:
        return 5
    if examples <= 1_000:
        return 3
    return 2 if examples <= 10_000 else 1


def encode(tokenizer: Any, messages: list[dict[str, Any]], max_length: int) -> dict:
    """Token ids of the conversation and labels that are the ids of the assistant turns
    with weight 1 (IGNORE elsewhere), cut at `max_length`."""
    ids: list[int] = []
    labels: list[int] = []
    for end in range(1, len(messages) + 1):
        turn = messages[end - 1]
        text = tokenizer.apply_chat_template(
            [{"role": m["role"], "content": m["content"]} for m in messages[:end]],
            tokenize=False,
        )
        whole = tokenizer(text, add_special_tokens=False)["input_ids"]
        new = whole[len(ids) :]
        trained = turn["role"] == "assistant" and turn.get("weight", 1) == 1
        ids += new
        labels += new if trained else [IGNORE] * len(new)
    return {"input_ids": ids[:max_length], "labels": labels[:max_length]}


def batches(examples: list[dict], size: int, seed: int, epoch: int) -> Iterator[list[dict]]:
    """The examples in an order fixed by (seed, epoch), `size` at a time."""
    order = list(range(len(examples)))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    for start in range(0, len(order), size):
        yield [examples[i] for i in order[start : start + size]]


def schedule_of(data: list[dict], settings: LoraSettings, epochs: int, done: int):
    """(step, batch) for every step after the first `done`, in training order."""
    step = 0
    for epoch in range(epochs):
        for batch in batches(data, settings.batch_size, settings.seed, epoch):
            if step >= done:
                yield step, batch
            step += 1


def collate(batch: list[dict], pad_id: int) -> dict:
    import torch

    width = max(len(example["input_ids"]) for example in batch)

    def padded(key: str, fill: int) -> Any:
        rows = [e[key] + [fill] * (width - len(e[key])) for e in batch]
        return torch.tensor(rows, dtype=torch.long)

    lengths = torch.tensor([len(example["input_ids"]) for example in batch])
    mask = torch.arange(width)[None, :] < lengths[:, None]
    return {"input_ids": padded("input_ids", pad_id), "labels": padded("labels", IGNORE),
            "attention_mask": mask.long()}  # fmt: skip


def loss_and_accuracy(model: Any, batch: dict) -> tuple[Any, float]:
    """Mean cross-entropy over trained tokens, and the share of them predicted right.

    The output layer runs only at the trained positions (`logits_to_keep` as a mask): on a
    small model it is a fifth of the forward pass, and the prompt is most of every row."""
    import torch.nn.functional as F

    # each position predicts the next token: shift the labels, not the logits
    targets = F.pad(batch["labels"][:, 1:], (0, 1), value=IGNORE)
    trained = targets.ne(IGNORE)
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        logits_to_keep=trained,
    ).logits  # (trained tokens, vocabulary)
    targets = targets[trained]
    loss = F.cross_entropy(logits, targets)
    right = logits.argmax(-1).eq(targets).sum().item()
    return loss, right / max(targets.numel(), 1)


def train(
    model_dir: Path,
    examples: list[list[dict[str, Any]]],
    out: Path,
    settings: LoraSettings = LoraSettings(),
    on_progress: Callable[[Progress], None] = lambda _: None,
    should_stop: Callable[[], bool] = lambda: False,
    on_checkpoint: Callable[[int], None] = lambda _: None,
    pause: Callable[[], None] = lambda: None,
) -> Trained:
    """Train an adapter for the checkpoint in `model_dir` on `examples` (each a list of
    messages with weights); resume from the last checkpoint in `out` if there is one.
    `on_checkpoint(step)` follows each checkpoint saved on the way; `pause()` is called
    between layers and may block (to leave the CPU to a server)."""
    import torch
    from accelerate import Accelerator

    torch.manual_seed(settings.seed)
    accelerator = Accelerator()
    tokenizer, model = _load(model_dir, settings)
    data = [encode(tokenizer, messages, settings.max_length) for messages in examples]
    epochs = settings.n_epochs or auto_epochs(len(data))
    per_epoch = math.ceil(len(data) / settings.batch_size)
    total = per_epoch * epochs
    parts = accelerator.prepare(model, *_optimizer(model, settings, total))
    model, optimizer, schedule = parts
    done, seen = _resume(accelerator, parts, out)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model.train()
    _between_layers(model, should_stop, pause)
    started, loss_value, steps = time.perf_counter(), float("nan"), done
    for step, batch in schedule_of(data, settings, epochs, done):
        if should_stop():
            break
        tensors = {k: v.to(accelerator.device) for k, v in collate(batch, pad).items()}
        try:
            loss, accuracy = loss_and_accuracy(model, tensors)
            accelerator.backward(loss)
        except Stopped:
            optimizer.zero_grad()
            break
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        seen += sum(len(e["input_ids"]) for e in batch)
        loss_value, steps = loss.item(), step + 1
        rate = seen / max(time.perf_counter() - started, 1e-9)
        lr = schedule.get_last_lr()[0]
        on_progress(Progress(steps, total, steps / per_epoch, loss_value, accuracy, lr, seen, rate))
        if settings.checkpoint_every and steps % settings.checkpoint_every == 0 and steps < total:
            _checkpoint(accelerator, parts, out, steps, seen)
            on_checkpoint(steps)
    adapter = out / "adapter"
    accelerator.wait_for_everyone()
    accelerator.unwrap_model(model).save_pretrained(adapter)
    _checkpoint(accelerator, parts, out, steps, seen)
    return Trained(adapter, steps, seen, loss_value)


class Stopped(Exception):
    """Raised inside a step's forward pass when `should_stop` turns true, so a stop waits
    at most for one backward pass, not for the rest of the step (seconds on a CPU)."""


def _between_layers(model: Any, should_stop: Callable[[], bool], pause: Callable[[], None]) -> None:
    # forward hooks only: backward hooks cost 3% of a step, forward ones under 2%
    def check(*_: Any) -> None:
        pause()
        if should_stop():
            raise Stopped

    for module in model.modules():
        if type(module).__name__.endswith("DecoderLayer"):
            module.register_forward_pre_hook(check)


def _load(model_dir: Path, settings: LoraSettings) -> tuple[Any, Any]:
    """The tokenizer and the model with LoRA adapters on every linear layer."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    config = LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, target_modules=TARGETS, task_type="CAUSAL_LM"
    )
    return tokenizer, get_peft_model(model, config)


def _optimizer(model: Any, settings: LoraSettings, total: int) -> tuple[Any, Any]:
    import torch

    trained = [p for p in model.parameters() if p.requires_grad]
    # the fused kernel (one pass over all parameters) is what transformers' Trainer uses
    optimizer = torch.optim.AdamW(trained, lr=settings.learning_rate, fused=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _rate(step, settings.warmup_steps, total)
    )
    return optimizer, schedule


def _rate(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then linear decay to a tenth."""
    if step < warmup:
        return (step + 1) / (warmup + 1)
    left = max(total - step, 0) / max(total - warmup, 1)
    return 0.1 + 0.9 * left


def _checkpoint(accelerator: Any, parts: tuple, out: Path, step: int, seen: int) -> None:
    """The adapter's weights (not the frozen model's), the optimizer and the schedule: what
    resuming needs, a few MB. Every process holds the same copy (DDP keeps them in step),
    so the main one writes it."""
    import torch
    from peft import get_peft_model_state_dict

    model, optimizer, schedule = parts
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    folder = out / "checkpoints" / f"step-{step:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "adapter": get_peft_model_state_dict(accelerator.unwrap_model(model)),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
    }
    torch.save(state, folder / "state.pt")
    # written last: a checkpoint without it was cut short and is not resumed from
    (folder / "progress.json").write_text(json.dumps({"step": step, "seen": seen}))


def _resume(accelerator: Any, parts: tuple, out: Path) -> tuple[int, int]:
    """(steps done, tokens seen) of the last whole checkpoint in `out`, loaded into
    `parts`; (0, 0) if there is none."""
    import torch
    from peft import set_peft_model_state_dict

    model, optimizer, schedule = parts
    for folder in sorted((out / "checkpoints").glob("step-*"), reverse=True):
        progress = folder / "progress.json"
        if not progress.exists():
            continue
        state = torch.load(folder / "state.pt", map_location=accelerator.device)
        set_peft_model_state_dict(accelerator.unwrap_model(model), state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        progress_state = json.loads(progress.read_text())
        return progress_state["step"], progress_state["seen"]
    return 0, 0


def resumable_step(out: Path) -> int:
    """The step `train` would resume from in `out` (0: from the start)."""
    for progress in sorted((out / "checkpoints").glob("step-*/progress.json"), reverse=True):
        return json.loads(progress.read_text())["step"]
    return 0
