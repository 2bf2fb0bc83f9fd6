"""A Hugging Face checkpoint folder from a GGUF file: the starting point for fine-tuning and
for the transformers engine. The weights are dequantized (a Q4 GGUF gives the Q4 model's
values in float32 or bfloat16, not the original full-precision ones)."""

from __future__ import annotations

from pathlib import Path

from modelmint.runtime.offline import stay_offline

DTYPES = ("float32", "bfloat16")


def export_gguf(gguf: Path, out: Path, dtype: str = "float32") -> Path:
    """Write config, weights (safetensors), tokenizer and chat template to `out`."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if not gguf.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf}")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; pick a new folder")
    stay_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    # the GGUF loader marks the model as quantized, which save_pretrained refuses;
    # a plain model of the same config takes its (dequantized) weights instead
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
