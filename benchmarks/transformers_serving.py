"""The transformers engine: modelmint serving a Hugging Face checkpoint (the default GGUF,
dequantized to float32 by `modelmint export-hf`) against transformers' own `generate` on
the same checkpoint, with the same number of torch threads, in the same run.

- modelmint: `modelmint serve` with only that checkpoint (engine "transformers", 8 rows),
  auth, limits and the ledger on; streamed chats at each concurrency level, as in
  benchmarks/serving.py (128-token answers, clients back to back);
- the peer, in this process while the server idles: `model.generate` for one prompt, and
  for 8 prompts at once (static batching, left-padded), 128 new tokens each, greedy with
  repetition_penalty 1.1 (modelmint's default for this model).

Run:  .venv/bin/python benchmarks/transformers_serving.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from business import Servers
from serving import gguf_path, measure_servers, start
from serving import parse_args as serving_args

STORY = "Write a long story about {}, with many details."
TOPICS = (
    "a lighthouse keeper", "a lost robot", "two rival bakers", "a dragon who hates gold",
    "a city under the sea", "the last train", "a cat who runs a library", "an old map",
)  # fmt: skip


def log(message: str) -> None:
    print(f"[transformers] {message}", file=sys.stderr, flush=True)


def peer_rates(checkpoint: Path, threads: int, max_tokens: int, runs: int) -> dict[int, float]:
    """Output tok/s of transformers' generate at batch 1 and 8, medians of `runs`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    rates: dict[int, list[float]] = {1: [], 8: []}
    for run in range(runs):
        for batch in rates:
            texts = [
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": STORY.format(TOPICS[i])}],
                    tokenize=False,
                    add_generation_prompt=True,
                )
                for i in range(batch)
            ]
            inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            started = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    min_new_tokens=max_tokens,
                    do_sample=False,
                    repetition_penalty=1.1,
                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                )
            elapsed = time.perf_counter() - started
            new = (out.shape[1] - inputs["input_ids"].shape[1]) * batch
            rates[batch].append(new / elapsed)
            log(f"run {run + 1}/{runs}: generate, batch {batch}: {rates[batch][-1]:.1f} tok/s")
    return {batch: statistics.median(values) for batch, values in rates.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--levels", default="1,8", help="concurrency levels (1,8)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per level (30)")
    parser.add_argument("--runs", type=int, default=3, help="repeats; medians (3)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--checkpoint", type=Path, help="an exported folder (default: export)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mm-hf-bench-") as tmp_name:
        tmp = Path(tmp_name)
        checkpoint = args.checkpoint
        if checkpoint is None:
            from modelmint.runtime.hf.export import export_gguf

            log("exporting the default GGUF to a Hugging Face checkpoint")
            checkpoint = export_gguf(gguf_path(), tmp / "checkpoint")
        registry = tmp / "models.toml"
        registry.write_text(
            f'[[models]]\nname = "smollm2-hf"\naliases = ["default"]\nengine = "transformers"\n'
            f'path = "{checkpoint}"\ncontext_length = 2048\nparallel = 8\n'
            f'default_system_prompt = "You are a helpful assistant."\n'
            f"[models.defaults]\ntemperature = 0.0\nrepeat_penalty = 1.1\n"
        )
        options = {
            "--servers": "modelmint",
            "--levels": args.levels,
            "--seconds": str(args.seconds),
            "--runs": str(args.runs),
            "--threads": str(args.threads),
            "--prefix-pairs": "0",
            "--modelmint-args": f"--models {registry}",
        }
        bench = serving_args([part for pair in options.items() for part in pair])
        servers = Servers(tmp)
        try:
            started = start("modelmint", servers, gguf_path(), bench)
            if isinstance(started, str):
                raise SystemExit(started)
            proc, target = started
            served = measure_servers({"modelmint": (target, proc.pid)}, bench)["modelmint"]
        finally:
            servers.stop_all()
        peer = peer_rates(checkpoint, args.threads, bench.max_tokens, args.runs)
    levels = served["levels"]
    print(f"\nTransformers engine, float32 checkpoint, 128-token answers, medians of {args.runs}\n")
    print("| clients | modelmint tok/s | TTFT p50 s | transformers generate tok/s (batch) |")
    print("|---:|---:|---:|---:|")
    for level, r in levels.items():
        same = peer.get(level)
        peer_cell = f"{same:.1f} (batch {level})" if same else "-"
        print(f"| {level} | {r['tok_s']:.1f} | {r['ttft_p50']:.3f} | {peer_cell} |")
    if 1 in levels and 8 in levels:
        gain = levels[8]["tok_s"] / levels[1]["tok_s"]
        print(f"\nbatching gain, 8 clients / 1 client: {gain:.2f}x")
    print(f"RSS after warm-up: {served.get('rss', float('nan')):.0f} MB")


if __name__ == "__main__":
    main()
