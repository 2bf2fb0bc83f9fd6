"""A trained checkpoint as a GGUF that llama.cpp serves: its weights written into a copy
of the base GGUF's metadata (tokenizer, chat template, rope, sizes), then quantized.

This is enough for a model fine-tuned from a llama-architecture base (SmolLM2 and its
family): the architecture and the tokenizer are the base's, only the weights changed, so
nothing needs llama.cpp's own Hugging Face converter (which the installed packages do not
ship). The attention's q and k rows are permuted back into llama.cpp's order, as its
converter does; tied embeddings stay tied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# llama.cpp's LLAMA_FTYPE_* values
QUANTS = {"F16": 1, "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q5_1": 9, "Q5_0": 8, "Q4_K_M": 15,
          "Q4_1": 3}  # fmt: skip


def write_gguf(
    base: Path,
    weights: dict[str, Any],
    out: Path,
    quant: str = "Q4_1",
) -> Path:
    """Write `weights` (a Hugging Face state dict, merged) as a GGUF at `out`, with the
    metadata of the GGUF `base`, quantized to `quant`."""
    if quant not in QUANTS:
        raise ValueError(f"quant must be one of {', '.join(QUANTS)}, not {quant!r}")
    import gguf

    reader = gguf.GGUFReader(base)
    arch = str(reader.fields["general.architecture"].contents())
    if arch != "llama":
        raise ValueError(f"{base} is a {arch!r} model; only llama-architecture bases export")
    full = out.with_suffix(".f16.gguf")
    _write_f16(reader, weights, full)
    if quant == "F16":
        full.replace(out)
    else:
        _quantize(full, out, QUANTS[quant], _embedding_type(reader))
        full.unlink()
    return out


def _embedding_type(reader: Any) -> int:
    """The base's type for the token embedding (llama.cpp's GGML_TYPE_*). LoRA does not
    train it, so it keeps the base's values and size: a tenth of the model's weights, and
    read for every token generated (the output layer shares it)."""
    return next(int(t.tensor_type) for t in reader.tensors if t.name == "token_embd.weight")


def _write_f16(reader: Any, weights: dict[str, Any], out: Path) -> None:
    import gguf

    blocks = int(reader.fields["llama.block_count"].contents())
    heads = int(reader.fields["llama.attention.head_count"].contents())
    kv_heads = int(reader.fields["llama.attention.head_count_kv"].contents())
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)
    wanted = {t.name for t in reader.tensors}  # the base's tensors (no output.weight: tied)
    writer = gguf.GGUFWriter(out, "llama")
    _copy_metadata(reader, writer)
    tensors = []
    for key, value in weights.items():
        name = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if name is None or name not in wanted:
            continue
        array = value.detach().float().cpu().numpy()
        if key.endswith("q_proj.weight"):
            array = _permute(array, heads)
        elif key.endswith("k_proj.weight"):
            array = _permute(array, kv_heads)
        # norms (1-D) stay float32, as llama.cpp's converter keeps them
        tensors.append((name, array.astype(np.float32 if array.ndim == 1 else np.float16)))
    missing = wanted - {name for name, _ in tensors}
    if missing:
        raise ValueError(f"the checkpoint lacks {len(missing)} of the base's tensors, e.g. "
                         f"{sorted(missing)[0]}")  # fmt: skip
    for name, array in tensors:
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()


def _copy_metadata(reader: Any, writer: Any) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.General.FILE_TYPE:
            writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face's q/k rows into llama.cpp's rotary order (its converter's `permute`)."""
    rows = weights.shape[0]
    return (
        weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _quantize(source: Path, out: Path, ftype: int, embedding_type: int) -> None:
    import llama_cpp

    from modelmint.runtime.llamacpp.model import silence_native_logs

    silence_native_logs()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    # with tied embeddings llama.cpp types the token embedding as the output layer
    params.token_embedding_type = params.output_tensor_type = embedding_type
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if status != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source} (status {status})")
