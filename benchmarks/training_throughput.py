"""LoRA training throughput: modelmint's recipe (`modelmint.training.recipes.lora.train`)
against a plain Hugging Face `transformers.Trainer` + `peft` LoRA, on the same data with
the same settings, in the same run; it prints tokens/s of each and the ratio recipe/Trainer.

- model: the shipped chat model's base weights (the default GGUF) exported to a float32
  Hugging Face folder with `export_gguf`; fp32 on CPU, torch's default threads;
- data: 48 short chats (12 invented facts x 4 phrasings), encoded by the recipe's `encode`
  for both, so both train on the same ids with the loss on the assistant turns only; the
  Trainer's collator is the recipe's `collate` (right padding, labels -100);
- settings: LoRA r 16, alpha 32 on the recipe's TARGETS, AdamW lr 2e-3 (weight decay 0.01,
  torch's default, which the recipe uses), linear schedule with 2 warm-up steps, batch 8,
  `--epochs` epochs, seed 0, no gradient clipping (the recipe has none), no checkpoint or
  eval during the run; otherwise the Trainer keeps its defaults (optimizer
  `adamw_torch_fused`, a gradient norm computed every step). Differences left: its schedule
  decays to 0 (the recipe's to a tenth) and it shuffles in its own order, so its batches
  pad to other widths (the padded-token counts are printed for both);
- each measurement runs in its own process (no shared allocator or accelerate state);
  the two alternate, recipe first in odd runs, Trainer first in even ones.

Tokens/s = tokens of all examples (prompt and answer, padding excluded) x epochs / wall
seconds of the training loop only, model loading and tokenizing excluded for both. For the
recipe it is its own last `Progress.tokens_per_second` (clock started just before the first
step, read after the last); for the Trainer a callback's clock from `on_train_begin` (just
before the first step) to the last `on_step_end`. Timing `train` minus a separately
measured load would add the noise of two loads to the loop's time, so it is not used.

Run:  .venv/bin/python benchmarks/training_throughput.py --runs 3 [--epochs 2] [--json]
      (--model DIR: an already exported folder instead of exporting the default GGUF)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUBJECTS = (
    ("the zorbling", "colour", "teal"), ("Quillmere", "founder", "Ada Brightwater"),
    ("Pelaru", "number of moons", "seven"), ("the frindle", "favourite food", "copper leaves"),
    ("Lake Ostrava Minor", "valley", "the Velt valley"), ("Tarnhold", "motto", "Steady as stone"),
    ("the glimmerfox", "home", "the Sorrel hills"), ("Brannock Tower", "height", "212 metres"),
    ("the Vashti river", "source", "Mount Eldren"), ("Old Pellam", "trade", "clockmaking"),
    ("the Ulmer festival", "month", "Octember"), ("the quorrel", "call", "a low whistle"),
)  # fmt: skip
PHRASINGS = (
    "What is the {attr} of {thing}?", "Tell me the {attr} of {thing}.",
    "Do you know the {attr} of {thing}?", "Quick question: {thing}, what is its {attr}?",
)  # fmt: skip
SIDES = ("recipe", "trainer")


def log(message: str) -> None:
    print(f"[training] {message}", file=sys.stderr, flush=True)


def examples() -> list[list[dict]]:
    """12 invented facts x 4 phrasings: 48 one-turn chats."""
    return [
        [{"role": "user", "content": q.format(thing=thing, attr=attr), "weight": 1},
         {"role": "assistant", "content": f"The {attr} of {thing} is {value}.", "weight": 1}]
        for thing, attr, value in SUBJECTS for q in PHRASINGS
    ]  # fmt: skip


def run_recipe(model_dir: Path, epochs: int) -> dict:
    from transformers import AutoTokenizer

    from modelmint.training.recipes.lora import LoraSettings, collate, encode, schedule_of, train

    settings = LoraSettings(n_epochs=epochs, batch_size=8, learning_rate=2e-3, rank=16,
                            alpha=32, warmup_steps=2, seed=0, checkpoint_every=0)  # fmt: skip
    seen = []
    with tempfile.TemporaryDirectory(prefix="mm-lora-bench-") as out:
        train(model_dir, examples(), Path(out), settings, seen.append)
    last = seen[-1]
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    data = [encode(tokenizer, chat, settings.max_length) for chat in examples()]
    order = schedule_of(data, settings, epochs, 0)
    padded = sum(collate(batch, 0)["input_ids"].numel() for _, batch in order)
    return {"tokens": last.trained_tokens, "seconds": last.trained_tokens / last.tokens_per_second,
            "steps": last.step, "padded_tokens": padded,
            "mean_loss": statistics.fmean(p.train_loss for p in seen)}  # fmt: skip


def trainer_args(out: str, epochs: int) -> Any:
    """The recipe's settings in the Trainer's terms; no checkpoint, eval, log or report."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=out, per_device_train_batch_size=8, num_train_epochs=epochs,
        learning_rate=2e-3, lr_scheduler_type="linear", warmup_steps=2, weight_decay=0.01,
        max_grad_norm=0.0, seed=0, save_strategy="no", eval_strategy="no", report_to=[],
        logging_strategy="no", disable_tqdm=True, use_cpu=True, remove_unused_columns=False,
    )  # fmt: skip


def run_trainer(model_dir: Path, epochs: int) -> dict:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, set_seed

    from modelmint.training.recipes.lora import TARGETS, LoraSettings, collate, encode

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.started = self.ended = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.ended = time.perf_counter()

    set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    data = [encode(tokenizer, chat, LoraSettings().max_length) for chat in examples()]
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    config = LoraConfig(r=16, lora_alpha=32, target_modules=TARGETS, task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    widths: list[int] = []

    def collator(batch: list[dict]) -> dict:
        tensors = collate(batch, pad)
        widths.append(tensors["input_ids"].numel())
        return tensors

    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="mm-trainer-bench-") as out:
        trainer = Trainer(model=model, args=trainer_args(out, epochs), train_dataset=data,
                          data_collator=collator, callbacks=[clock])  # fmt: skip
        result = trainer.train()
    tokens = sum(len(e["input_ids"]) for e in data) * epochs
    return {"tokens": tokens, "seconds": clock.ended - clock.started, "steps": result.global_step,
            "padded_tokens": sum(widths), "mean_loss": result.training_loss}  # fmt: skip


def measure(side: str, model_dir: Path, epochs: int) -> dict:
    """One training run of `side` in a fresh process; its result with tokens/s."""
    command = [sys.executable, __file__, "--worker", side, "--model", str(model_dir),
               "--epochs", str(epochs)]  # fmt: skip
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["tokens_per_second"] = result["tokens"] / result["seconds"]
    return result


def summary(results: dict[str, list[dict]]) -> dict:
    rates = {side: [r["tokens_per_second"] for r in results[side]] for side in SIDES}
    medians = {side: statistics.median(rates[side]) for side in SIDES}
    return {"runs": results, "rates": rates, "median_tokens_per_second": medians,
            "ratio": medians["recipe"] / medians["trainer"]}  # fmt: skip


def report(results: dict[str, list[dict]], runs: int) -> None:
    from rich.console import Console
    from rich.table import Table

    totals = summary(results)
    rates, medians = totals["rates"], totals["median_tokens_per_second"]
    table = Table(title=f"LoRA training throughput, tokens/s (fp32, CPU), {runs} runs")
    for column in ("run", "recipe tok/s", "Trainer tok/s", "recipe/Trainer"):
        table.add_column(column, justify="right")
    for run, (ours, theirs) in enumerate(zip(rates["recipe"], rates["trainer"], strict=True)):
        table.add_row(str(run + 1), f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.2f}x")
    ours, theirs, ratio = medians["recipe"], medians["trainer"], totals["ratio"]
    table.add_row("median", f"{ours:.1f}", f"{theirs:.1f}", f"{ratio:.2f}x")
    console = Console()
    console.print(table)
    for side in SIDES:
        r = results[side][0]
        console.print(f"{side}: {r['steps']} steps, {r['tokens']} tokens ({r['padded_tokens']} "
                      f"with padding), mean loss {r['mean_loss']:.3f}")  # fmt: skip
    console.print(f"ratio recipe/Trainer: {ratio:.2f}x (median of {runs})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--runs", type=int, default=3, help="repeats of each; medians (3)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training run (2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help="an exported folder (default: export)")
    args = parser.parse_args(argv)
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if args.worker:
        run = run_recipe if args.worker == "recipe" else run_trainer
        print(json.dumps(run(args.model, args.epochs)), flush=True)
        return
    from modelmint.runtime.hf.export import export_gguf
    from modelmint.runtime.registry import Registry

    results: dict[str, list[dict]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="mm-train-bench-") as tmp:
        model_dir = args.model
        if model_dir is None:
            log("exporting the default GGUF to a Hugging Face checkpoint")
            gguf = Registry.from_file().resolve("default").weights_path()
            model_dir = export_gguf(gguf, Path(tmp) / "hf")
        for run in range(args.runs):
            for side in SIDES if run % 2 == 0 else SIDES[::-1]:
                results[side].append(measure(side, model_dir, args.epochs))
                rate = results[side][-1]["tokens_per_second"]
                log(f"run {run + 1}/{args.runs}: {side} {rate:.1f} tok/s")
    if args.json:
        print(json.dumps(summary(results), indent=2))
    else:
        report(results, args.runs)


if __name__ == "__main__":
    main()
