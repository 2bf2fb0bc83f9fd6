"""The `transformers` engine: Hugging Face checkpoints (fine-tuned ones) on CPU with torch,
batched across concurrent requests."""

from modelmint.runtime.hf.engine import TransformersEngine

__all__ = ["TransformersEngine"]
