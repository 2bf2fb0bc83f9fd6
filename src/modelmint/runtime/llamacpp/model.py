"""The native llama.cpp model and context: loading, tokenizing, metadata, freeing.

One context holds `n_seq_max` sequences, each in its own stream of the KV cache
(`n_ctx / n_seq_max` cells, llama-server's layout), so several requests are decoded in one
batch and each token attends only to its own sequence's cells. (A unified cache, where
every token's attention scans the cells of all sequences, measured as fast with short
sequences, but its cost grows with everything the other sequences hold.) Everything
here is a thin, typed wrapper over ctypes calls.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from modelmint.core.errors import EngineError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContextConfig:
    n_ctx: int  # KV cells of all sequences together
    n_seq_max: int
    n_batch: int = 512
    n_threads: int = 2


def silence_native_logs() -> None:
    """llama.cpp logs every load and quantization to stderr; only errors matter here."""
    from llama_cpp import _logger

    _logger.set_verbose(False)


class LlamaModel:
    """Owns `llama_model*` and `llama_context*`; call `close()` to free them."""

    def __init__(self, path: Path, config: ContextConfig) -> None:
        silence_native_logs()
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        if not self.model:
            raise EngineError(f"llama.cpp could not load the model at {path}")
        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = config.n_ctx
        ctx_params.n_batch = config.n_batch
        ctx_params.n_ubatch = config.n_batch
        ctx_params.n_seq_max = config.n_seq_max
        ctx_params.n_threads = config.n_threads
        ctx_params.n_threads_batch = config.n_threads
        ctx_params.kv_unified = False
        ctx_params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.model, ctx_params)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise EngineError(f"llama.cpp could not create a context for {path}")
        self.config = config
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.train_context_length = int(self.meta("llama.context_length") or 0) or None
        self._piece_buffer = ctypes.create_string_buffer(256)

    def close(self) -> None:
        if self.ctx:
            llama_cpp.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            llama_cpp.llama_model_free(self.model)
            self.model = None

    # metadata -----------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        size = 1 << 16
        buffer = ctypes.create_string_buffer(size)
        length = llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buffer, size)
        if length < 0:
            return None
        if length >= size:
            buffer = ctypes.create_string_buffer(length + 1)
            llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buffer, length + 1)
        return buffer.value.decode("utf-8", errors="replace")

    def chat_template(self) -> str | None:
        template = llama_cpp.llama_model_chat_template(self.model, None)
        return template.decode("utf-8") if template else None

    def token_text(self, token: int) -> str:
        return self.piece(token, special=True).decode("utf-8", errors="replace")

    @property
    def bos(self) -> int:
        return llama_cpp.llama_vocab_bos(self.vocab)

    @property
    def eos(self) -> int:
        return llama_cpp.llama_vocab_eos(self.vocab)

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    # tokens -------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 16
        tokens = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(
            self.vocab, data, len(data), tokens, capacity, add_special, parse_special
        )
        if count < 0:
            capacity = -count
            tokens = (llama_cpp.llama_token * capacity)()
            count = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), tokens, capacity, add_special, parse_special
            )
        return list(tokens[:count])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        buffer = self._piece_buffer
        length = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, len(buffer), 0, special)
        if length < 0:
            buffer = ctypes.create_string_buffer(-length)
            length = llama_cpp.llama_token_to_piece(
                self.vocab, token, buffer, len(buffer), 0, special
            )
        return buffer.raw[:length]

    def logits(self, batch_index: int) -> np.ndarray:
        pointer = llama_cpp.llama_get_logits_ith(self.ctx, batch_index)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def forget(self, seq_id: int, from_pos: int = -1) -> None:
        """Drop a sequence's KV cells from `from_pos` on (all of them by default)."""
        llama_cpp.llama_memory_seq_rm(self.memory, seq_id, from_pos, -1)
