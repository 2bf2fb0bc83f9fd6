"""The `llamacpp` engine: GGUF models through llama-cpp-python's low-level API.

`model` owns the native model and context, `sampling` builds per-sequence sampler chains,
`scheduler` runs continuous batching on one thread, `engine` is the async facade.
"""

from modelmint.runtime.llamacpp.engine import LlamaCppEngine

__all__ = ["LlamaCppEngine"]
