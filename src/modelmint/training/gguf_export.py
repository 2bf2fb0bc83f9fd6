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

from modelmint.training.base_grid import GRIDS, Grid, steps_on_grid

# llama.cpp's LLAMA_FTYPE_* values
QUANTS = {"F16": 1, "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q5_1": 9, "Q5_0": 8, "Q4_K_M": 15,
          "Q4_1": 3}  # fmt: skip
BASE_GRID = "base"  # not a llama.cpp type: each tensor in the base's own (`_write_on_base_grid`)
FORMATS = (BASE_GRID, *QUANTS)


def write_gguf(
    base: Path,
    weights: dict[str, Any],
    out: Path,
    quant: str = BASE_GRID,
    hessians: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write `weights` (a Hugging Face state dict, merged) as a GGUF at `out`, with the
    metadata of the GGUF `base`: in the base's own tensor types (`base`; `hessians`, by
    weight name, are what its rounding keeps the outputs true to) or quantized to the
    llama.cpp type `quant`."""
    if quant not in FORMATS:
        raise ValueError(f"quant must be one of {', '.join(FORMATS)}, not {quant!r}")
    import gguf

    reader = gguf.GGUFReader(base)
    arch = str(reader.fields["general.architecture"].contents())
    if arch != "llama":
        raise ValueError(f"{base} is a {arch!r} model; only llama-architecture bases export")
    if quant == BASE_GRID:
        _write_on_base_grid(reader, weights, out, hessians or {})
        return out
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

    writer = gguf.GGUFWriter(out, "llama")
    _copy_metadata(reader, writer, gguf.LlamaFileType.MOSTLY_F16)
    for name, array in _named_arrays(reader, weights).items():
        # norms (1-D) stay float32, as llama.cpp's converter keeps them
        writer.add_tensor(name, array.astype(np.float32 if array.ndim == 1 else np.float16))
    _finish(writer)


def _named_arrays(reader: Any, weights: dict[str, Any]) -> dict[str, np.ndarray]:
    """`weights` (a Hugging Face state dict) as float32 arrays under the base GGUF's tensor
    names, in its order, q and k rows in llama.cpp's rotary order."""
    heads = int(reader.fields["llama.attention.head_count"].contents())
    kv_heads = int(reader.fields["llama.attention.head_count_kv"].contents())
    names = _names(reader)
    found = {}
    for key, value in weights.items():
        name = names.get_name(key, try_suffixes=(".weight", ".bias"))
        if name is None:
            continue
        array = value.detach().float().cpu().numpy()
        if key.endswith("q_proj.weight"):
            array = _permute(array, heads)
        elif key.endswith("k_proj.weight"):
            array = _permute(array, kv_heads)
        found[name] = array
    order = [t.name for t in reader.tensors]  # no output.weight: tied embeddings
    missing = [name for name in order if name not in found]
    if missing:
        raise ValueError(f"the checkpoint lacks {len(missing)} of the base's tensors, e.g. "
                         f"{missing[0]}")  # fmt: skip
    return {name: found[name] for name in order}


def _names(reader: Any) -> Any:
    """Hugging Face's tensor names to the GGUF's (`get_name`)."""
    import gguf

    blocks = int(reader.fields["llama.block_count"].contents())
    return gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)


def _finish(writer: Any) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()


def _write_on_base_grid(
    reader: Any, weights: dict[str, Any], out: Path, hessians: dict[str, np.ndarray]
) -> None:
    """Every tensor in the base's own type (`base_grid`): unchanged ones copied byte for
    byte, changed quantized ones given new steps on the base's grid (with error feedback
    through `hessians`, keyed by Hugging Face weight name), changed float ones written as
    they are."""
    import gguf
    from gguf.quants import dequantize

    names = _names(reader)
    hessians = {names.get_name(k, try_suffixes=(".weight",)): h for k, h in hessians.items()}
    writer = gguf.GGUFWriter(out, "llama")
    _copy_metadata(reader, writer, _file_type(reader))
    arrays = _named_arrays(reader, weights)
    changed = {}
    for tensor in reader.tensors:
        shape = [int(n) for n in reversed(tensor.shape)]  # numpy's order
        arrays[tensor.name] = arrays[tensor.name].reshape(shape)
        if not np.array_equal(dequantize(tensor.data, tensor.tensor_type).reshape(shape),
                              arrays[tensor.name]):  # fmt: skip
            changed[tensor.name] = tensor
    rounded = _on_grid([t for t in changed.values() if t.tensor_type in GRIDS], arrays, hessians)
    for tensor in reader.tensors:
        kind, raw, new = tensor.tensor_type, tensor.data, arrays[tensor.name]
        if tensor.name not in changed:
            writer.add_tensor(tensor.name, raw, raw_shape=raw.shape, raw_dtype=kind)
        elif tensor.name in rounded:
            data = rounded[tensor.name]
            writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=kind)
        elif kind in FLOATS:
            writer.add_tensor(tensor.name, new.astype(FLOATS[kind]))
        else:
            raise ValueError(f"the base's {tensor.name} is {kind.name}: only Q4_1 and Q8_0 "
                             "tensors take a change on their grid; choose a quant")  # fmt: skip
    _finish(writer)


def _on_grid(
    tensors: list[Any], arrays: dict[str, np.ndarray], hessians: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The raw blocks of each of `tensors` with steps chosen for its new values. Tensors fed
    the same input (q, k and v; gate and up) share a Hessian and are rounded as one matrix
    of all their rows: one pass over the columns instead of one per tensor."""
    groups: dict[tuple, list[Any]] = {}
    for tensor in tensors:
        hessian = hessians.get(tensor.name)
        key = (int(tensor.tensor_type), id(hessian), arrays[tensor.name].shape[1])
        groups.setdefault(key, []).append(tensor)
    rounded = {}
    for (kind, _, _), group in groups.items():
        grid_of, pack = GRIDS[kind]
        grids = [grid_of(t.data, arrays[t.name].shape[0]) for t in group]
        joined = Grid(np.concatenate([g.d for g in grids]), np.concatenate([g.m for g in grids]),
                      grids[0].lo, grids[0].hi)  # fmt: skip
        weights = np.concatenate([arrays[t.name] for t in group])
        steps = steps_on_grid(weights, joined, hessians.get(group[0].name))
        start = 0
        for tensor in group:
            rows = arrays[tensor.name].shape[0]
            rounded[tensor.name] = pack(tensor.data, steps[start : start + rows])
            start += rows
    return rounded


# GGML_TYPE_* values
FLOATS = {0: np.float32, 1: np.float16}


def _file_type(reader: Any) -> Any:
    import gguf

    return gguf.LlamaFileType(int(reader.fields[gguf.Keys.General.FILE_TYPE].contents()))


def _copy_metadata(reader: Any, writer: Any, file_type: Any) -> None:
    import gguf

    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.General.FILE_TYPE:
            writer.add_file_type(file_type)
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
