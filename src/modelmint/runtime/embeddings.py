"""The `embeddings` engine: a sentence-transformers model loaded from a local folder.

Encoding runs on one worker thread so the event loop stays free; requests wait their turn
in a bounded queue (429 past it). Inputs longer than the
model's sequence limit are refused with the numbers rather than silently truncated.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modelmint.core.errors import ContextLengthExceededError, InvalidRequestError
from modelmint.runtime.admission import AdmissionGate
from modelmint.runtime.engine import Embeddings, EngineStats, GenerationEvent, GenerationRequest


class SentenceTransformersEngine:
    kind = "embeddings"

    def __init__(
        self, path: Path, context_length: int = 256, threads: int = 2, max_queue: int = 64
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.threads = threads
        self.gate = AdmissionGate(1, max_queue)
        self._model = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.context_length = min(self.context_length, model.max_seq_length)
        self._model = model

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def dimensions(self) -> int:
        return self._model.get_sentence_embedding_dimension() if self._model else 0

    def stats(self) -> EngineStats:
        return EngineStats(running=self.gate.running, waiting=self.gate.waiting)

    def measure(self, request: GenerationRequest) -> tuple[int, int]:
        return 0, 0

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationEvent]:
        raise InvalidRequestError(
            "This is an embedding model; use /v1/embeddings, or pick a chat model.",
            param="model",
        )

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        async with self.gate.slot():
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._encode, list(texts)
            )

    def _encode(self, texts: list[str]) -> Embeddings:
        assert self._model is not None
        encoded = self._model.tokenizer(texts, add_special_tokens=True)["input_ids"]
        lengths = [len(ids) for ids in encoded]
        for index, length in enumerate(lengths):
            if length > self.context_length:
                raise ContextLengthExceededError(
                    f"Input {index} has {length} tokens; this model accepts at most "
                    f"{self.context_length}. Split the text into smaller pieces.",
                    param="input",
                )
        vectors = self._model.encode(
            texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True
        )
        return Embeddings([v.tolist() for v in vectors], sum(lengths))
