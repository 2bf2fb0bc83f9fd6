"""A trained adapter as a model llama.cpp serves: merged into the base weights and
written as a GGUF with the base's metadata.

In the base's own tensor types by default (`base`), so a fine-tune decodes at the base's
speed. A fine-tune's change to a weight is mostly smaller than a Q4_1 step, so quantizing
the merged weights to Q4_1 the usual way rounds them back onto the base's grid and the
model forgets what it learnt (6 facts trained to a loss of 0.002 were answered 6/6 from
F16 and Q8_0, 0/6 from Q4_1); Q8_0 keeps them but decodes at 0.82x the base. `base`
keeps the base's blocks and chooses their steps so that each layer's outputs on the
fine-tune's own examples stay as the merged weights make them (`base_grid`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelmint.training.gguf_export import BASE_GRID, write_gguf
from modelmint.training.recipes.lora import LoraSettings, collate, encode

HESSIAN_BATCH = 8  # examples run together while the layers' inputs are summed


def merged_gguf(
    base_gguf: Path,
    base_dir: Path,
    adapter: Path,
    out: Path,
    quant: str = BASE_GRID,
    examples: list[list[dict[str, Any]]] | None = None,
) -> Path:
    """`out`: the model of `base_dir` (the Hugging Face export of `base_gguf`) with
    `adapter` merged in, in the base's types or quantized to `quant`. `examples` (chats,
    the fine-tune's own) are the inputs the base-type rounding keeps the layers true to."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    hessians = None
    if quant == BASE_GRID and examples:
        tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
        hessians = input_hessians(merged, tokenizer, examples)
    return write_gguf(base_gguf, merged.state_dict(), out, quant, hessians)


def input_hessians(
    model: Any, tokenizer: Any, examples: list[list[dict[str, Any]]]
) -> dict[str, np.ndarray]:
    """Σ x xᵀ over every token of `examples` of the input x of each linear layer in the
    decoder, keyed by the layer's weight name (what GPTQ's rounding weighs errors by).
    Layers fed the same input (q, k and v; gate and up) share one sum."""
    import torch

    sums: dict[str, Any] = {}  # by the weight of the input's first reader
    shared: dict[str, str] = {}  # a weight -> the one whose sum holds its input
    # this batch's inputs by id, each with the weight that read it first (the tensor is
    # kept so that its id cannot be reused by another within the batch)
    readers: dict[int, tuple[Any, str]] = {}
    batch: dict[str, Any] = {}

    def hook(name: str) -> Any:
        def add(_module: Any, inputs: tuple) -> None:
            x = inputs[0]
            _, first = readers.setdefault(id(x), (x, name))
            if first != name:
                shared[name] = first
                return
            rows = x[batch["attention_mask"].bool()]  # padding adds nothing
            sums[name] = sums.get(name, 0) + rows.T @ rows

        return add

    handles = [
        module.register_forward_pre_hook(hook(f"{name}.weight"))
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ".layers." in name
    ]
    try:
        with torch.no_grad():
            length = LoraSettings().max_length
            data = [encode(tokenizer, messages, length) for messages in examples]
            for start in range(0, len(data), HESSIAN_BATCH):
                batch.update(collate(data[start : start + HESSIAN_BATCH], 0))
                readers.clear()
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    finally:
        for handle in handles:
            handle.remove()
    found = {name: total.numpy() for name, total in sums.items()}
    return found | {name: found[owner] for name, owner in shared.items() if owner in found}
