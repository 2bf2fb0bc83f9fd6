"""The `embeddings` engine: a sentence-transformers model loaded from a local folder
(run by runtime/sentence_encoder.py).

Encoding runs on one worker thread so the event loop stays free. Requests that arrive
while it is busy are encoded together in the next batch (up to BATCH_TEXTS texts; under
concurrent load the next batch waits up to LINGER_SECONDS to fill), so many small
concurrent requests cost about what one big one does; past `max_queue` waiting
requests, callers get 429. Inputs longer than the
model's sequence limit are refused with the numbers rather than silently truncated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modelmint.core.errors import ContextLengthExceededError, InvalidRequestError
from modelmint.runtime.admission import AdmissionGate
from modelmint.runtime.engine import Embeddings, EngineStats, GenerationEvent, GenerationRequest
from modelmint.runtime.sentence_encoder import SentenceEncoder

BATCH_TEXTS = 256
LINGER_SECONDS = 0.005


class SentenceTransformersEngine:
    kind = "embeddings"

    def __init__(
        self, path: Path, context_length: int = 256, threads: int = 2, max_queue: int = 64
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.threads = threads
        self.gate = AdmissionGate(BATCH_TEXTS, max_queue)
        self._encoder: SentenceEncoder | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._pending: list[tuple[list[str], asyncio.Future[Embeddings]]] = []
        self._drainer: asyncio.Task | None = None

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        encoder = SentenceEncoder.load(self.path, self.threads)
        self.context_length = min(self.context_length, encoder.max_tokens)
        self._encoder = encoder

    async def close(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._encoder = None

    @property
    def ready(self) -> bool:
        return self._encoder is not None

    @property
    def dimensions(self) -> int:
        return self._encoder.dimensions if self._encoder else 0

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
            future: asyncio.Future[Embeddings] = asyncio.get_running_loop().create_future()
            self._pending.append((list(texts), future))
            if self._drainer is None or self._drainer.done():
                self._drainer = asyncio.create_task(self._drain(), name="embeddings-batcher")
            return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        concurrent = False
        while self._pending:
            if concurrent:
                await self._linger()
            batch, size = [], 0
            while self._pending and (not batch or size + len(self._pending[0][0]) <= BATCH_TEXTS):
                batch.append(self._pending.pop(0))
                size += len(batch[-1][0])
            try:
                results = await loop.run_in_executor(
                    self._executor, self._encode_many, [texts for texts, _ in batch]
                )
            except Exception as exc:  # the whole batch failed: each caller hears of it
                results = [exc] * len(batch)
            concurrent = len(batch) > 1 or bool(self._pending)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # its caller went away
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _linger(self) -> None:
        """Under concurrent load, wait up to LINGER_SECONDS for more requests to join the
        next batch: a request needs a few turns of the event loop (parsing, auth, budget
        hold) between arriving and reaching the queue, and a fuller batch costs little more
        than a small one."""
        deadline = time.perf_counter() + LINGER_SECONDS
        while time.perf_counter() < deadline:
            if sum(len(texts) for texts, _ in self._pending) >= BATCH_TEXTS // 4:
                return
            await asyncio.sleep(0.001)

    def _encode_many(self, requests: list[list[str]]) -> list[Embeddings | Exception]:
        """Each request's embeddings, from one encoding of every valid request's texts."""
        assert self._encoder is not None
        every = [text for request in requests for text in request]
        counts = self._encoder.count_tokens(every)
        results: list[Embeddings | Exception] = []
        texts: list[str] = []
        lengths: list[int] = []
        start = 0
        for request in requests:
            mine = counts[start : start + len(request)]
            if (failure := self._too_long(mine)) is not None:
                results.append(failure)
            else:
                results.append(Embeddings([], sum(mine)))
                texts += request
                lengths += mine
            start += len(request)
        rows = self._encoder.encode(texts, lengths)
        start = 0
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, Embeddings):
                result.vectors = rows[start : start + len(request)]
                start += len(request)
        return results

    def _too_long(self, lengths: list[int]) -> ContextLengthExceededError | None:
        index = next((i for i, n in enumerate(lengths) if n > self.context_length), None)
        if index is None:
            return None
        return ContextLengthExceededError(
            f"Input {index} has {lengths[index]} tokens; this model accepts at most "
            f"{self.context_length}. Split the text into smaller pieces.",
            param="input",
        )
