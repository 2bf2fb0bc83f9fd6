"""The engine's ceiling: how many tokens per second llama.cpp itself decodes on this machine,
with B sequences in one batch and nothing else (no HTTP, no sampling chain, no business).

This bounds what any server built on llama.cpp can reach here, modelmint's or llama.cpp's
own. The interesting number is the batching gain, ceiling(8) / ceiling(1): a server that
runs one request at a time (llama-cpp-python's) streams at most ceiling(1), so a batching
server can beat it at 8 clients by at most that gain.

The context is modelmint's (`runtime/llamacpp/model.py`: one KV stream per sequence, 2048
cells each, 2 threads). For each batch size B: B sequences get the same ~40-token prompt
(prefilled, not timed), then --steps steps each decode one token for every sequence (the
argmax of its logits, fed back); tok/s = B * steps / seconds. Also timed: a 128-token prompt
in one batch (prompt processing). Medians of --runs runs.

    .venv/bin/python benchmarks/decode_ceiling.py            # batch sizes 1,2,4,8,16
    .venv/bin/python benchmarks/decode_ceiling.py --batches 1,8 --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import llama_cpp
import numpy as np
from serving import gguf_path

from modelmint.runtime.llamacpp.model import ContextConfig, LlamaModel

PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle. " * 3
CELLS_PER_SEQUENCE = 2048


class Batch:
    """A llama_batch filled from Python lists."""

    def __init__(self, capacity: int) -> None:
        self.raw = llama_cpp.llama_batch_init(capacity, 0, 1)

    def fill(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """rows: (token, position, sequence, wants logits)."""
        b = self.raw
        for i, (token, pos, seq, logits) in enumerate(rows):
            b.token[i], b.pos[i], b.n_seq_id[i] = token, pos, 1
            b.seq_id[i][0], b.logits[i] = seq, logits
        b.n_tokens = len(rows)

    def free(self) -> None:
        llama_cpp.llama_batch_free(self.raw)


def decode(model: LlamaModel, batch: Batch) -> None:
    if llama_cpp.llama_decode(model.ctx, batch.raw) != 0:
        raise RuntimeError("llama_decode failed")


def decode_rate(model: LlamaModel, batch: Batch, width: int, steps: int) -> float:
    """tok/s of `steps` decode steps over `width` sequences (prefill not timed)."""
    prompt = model.tokenize(PROMPT, add_special=True, parse_special=False)
    for seq in range(width):
        model.forget(seq)
        batch.fill([(t, i, seq, i == len(prompt) - 1) for i, t in enumerate(prompt)])
        decode(model, batch)
    last = [int(np.argmax(model.logits(len(prompt) - 1)))] * width
    pos = len(prompt)
    began = time.perf_counter()
    for _ in range(steps):
        batch.fill([(last[s], pos, s, True) for s in range(width)])
        decode(model, batch)
        last = [int(np.argmax(model.logits(s))) for s in range(width)]
        pos += 1
    return width * steps / (time.perf_counter() - began)


def prompt_rate(model: LlamaModel, batch: Batch, length: int) -> float:
    tokens = (model.tokenize(PROMPT, add_special=True, parse_special=False) * 8)[:length]
    model.forget(0)
    batch.fill([(t, i, 0, i == length - 1) for i, t in enumerate(tokens)])
    began = time.perf_counter()
    decode(model, batch)
    return length / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument(
        "--batches",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1, 2, 4, 8, 16],
        help="sequences decoded together, comma-separated (1,2,4,8,16)",
    )
    parser.add_argument("--steps", type=int, default=100, help="decode steps per run (100)")
    parser.add_argument("--runs", type=int, default=3, help="repeats; medians (3)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (2)")
    parser.add_argument("--gguf", help="another GGUF to measure (default: the chat model's)")
    args = parser.parse_args(argv)

    slots = max(args.batches)
    config = ContextConfig(
        n_ctx=CELLS_PER_SEQUENCE * slots, n_seq_max=slots, n_batch=512, n_threads=args.threads
    )
    model = LlamaModel(Path(args.gguf) if args.gguf else gguf_path(), config)
    batch = Batch(512)
    try:
        decode_rate(model, batch, slots, 10)  # warm-up
        rates = {b: [] for b in args.batches}
        prompts = []
        for run in range(args.runs):
            for width in args.batches:
                rates[width].append(decode_rate(model, batch, width, args.steps))
            prompts.append(prompt_rate(model, batch, 128))
            print(
                f"run {run + 1}/{args.runs}: "
                + ", ".join(f"{b}: {rates[b][-1]:.1f}" for b in args.batches)
                + f" tok/s; prompt {prompts[-1]:.0f} tok/s",
                file=sys.stderr,
            )
    finally:
        batch.free()
        model.close()

    single = statistics.median(rates[args.batches[0]])
    print(f"## llama.cpp decode ceiling ({args.threads} threads, medians of {args.runs} runs)\n")
    print(f"| sequences | tok/s | gain over {args.batches[0]} |")
    print("|---|---|---|")
    for width in args.batches:
        rate = statistics.median(rates[width])
        print(f"| {width} | {rate:.1f} | {rate / single:.2f}x |")
    print(f"\nPrompt processing, 128 tokens in one batch: {statistics.median(prompts):.0f} tok/s")


if __name__ == "__main__":
    main()
