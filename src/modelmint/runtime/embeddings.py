"""The `embeddings` engine: a sentence-transformers model loaded from a local folder
(run by runtime/sentence_encoder.py).

`count` tokenizes a request's inputs before it is admitted (on a thread of its own, with a
tokenizer of its own), so the budget holds exactly what will be billed and an input longer
than the model's sequence limit is refused with the numbers rather than silently
truncated. Encoding runs on one worker thread so the event loop stays free, in rounds of
at most ROUND_TOKENS tokens (and BATCH_TEXTS texts). Requests share rounds: a round takes
texts from the waiting requests in turn, and a request that had texts in a round goes to
the back of the line, so a large request is cut into rounds that interleave with everyone
else's, and a small request arriving meanwhile waits for about one round, not for the
large request to finish. Under concurrent load a round waits up to LINGER_SECONDS to fill;
past `max_queue` waiting requests, callers get 429.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelmint.core.errors import ContextLengthExceededError, InvalidRequestError
from modelmint.runtime.admission import AdmissionGate
from modelmint.runtime.engine import Embeddings, EngineStats, GenerationEvent, GenerationRequest
from modelmint.runtime.sentence_encoder import SentenceEncoder

BATCH_TEXTS = 256
# ~0.4 s of all-MiniLM-L6-v2 on two cores: long enough that the encoder runs near its
# full speed, short enough that a small request is not kept waiting behind a large one
ROUND_TOKENS = 2048
LINGER_SECONDS = 0.005


@dataclass(eq=False)
class _Job:
    """One request's texts, encoded a round at a time into `rows`."""

    texts: list[str]
    lengths: list[int]
    future: asyncio.Future[np.ndarray]
    rows: np.ndarray | None = None
    done: int = 0  # texts encoded so far, in order

    @property
    def finished(self) -> bool:
        return self.done == len(self.texts)


@dataclass
class _Round:
    """The slices of each job that one encoder call covers."""

    parts: list[tuple[_Job, int, int]] = field(default_factory=list)
    tokens: int = 0

    @property
    def texts(self) -> int:
        return sum(end - start for _, start, end in self.parts)


def too_long(lengths: Sequence[int], limit: int) -> ContextLengthExceededError | None:
    """The error for the first input over `limit` tokens, or None."""
    index = next((i for i, n in enumerate(lengths) if n > limit), None)
    if index is None:
        return None
    return ContextLengthExceededError(
        f"Input {index} has {lengths[index]} tokens; this model accepts at most "
        f"{limit}. Split the text into smaller pieces.",
        param="input",
    )


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
        self._counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-count")
        self._jobs: deque[_Job] = deque()
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
        self._counter.shutdown(wait=False, cancel_futures=True)
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

    async def count(self, texts: Sequence[str]) -> list[int]:
        """Each input's token count as the model sees it; raises for one too long."""
        if self._encoder is None:
            raise InvalidRequestError("The model is not loaded yet.")
        loop = asyncio.get_running_loop()
        lengths = await loop.run_in_executor(self._counter, self._encoder.count_tokens, texts)
        if (failure := too_long(lengths, self.context_length)) is not None:
            raise failure
        return lengths

    async def embed(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> Embeddings:
        """One unit-length row per text; `lengths` are the texts' counts from `count`."""
        lengths = list(lengths) if lengths is not None else await self.count(texts)
        if not texts:
            return Embeddings(np.empty((0, self.dimensions), dtype=np.float32), 0)
        async with self.gate.slot():
            future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
            self._jobs.append(_Job(list(texts), lengths, future))
            if self._drainer is None or self._drainer.done():
                self._drainer = asyncio.create_task(self._drain(), name="embeddings-batcher")
            rows = await future
        return Embeddings(rows, sum(lengths))

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        concurrent = False
        while self._jobs:
            if concurrent:
                await self._linger()
            work = self._next_round()
            if not work.parts:
                continue
            texts = [t for job, start, end in work.parts for t in job.texts[start:end]]
            lengths = [n for job, start, end in work.parts for n in job.lengths[start:end]]
            try:
                rows = await loop.run_in_executor(self._executor, self._encode, texts, lengths)
            except Exception as exc:  # the round failed: each of its callers hears of it
                self._fail(work, exc)
            else:
                self._deliver(work, rows)
            concurrent = len(work.parts) > 1 or bool(self._jobs)

    def _next_round(self) -> _Round:
        """Texts from the waiting jobs in turn, up to the round's budget; the jobs that
        took part (and are not finished) go to the back of the line."""
        work = _Round()
        for job in list(self._jobs):
            if job.future.done():  # its caller went away
                self._jobs.remove(job)
                continue
            end = job.done
            while end < len(job.texts) and work.texts + (end - job.done) < BATCH_TEXTS:
                if work.tokens + job.lengths[end] > ROUND_TOKENS and (work.parts or end > job.done):
                    break
                work.tokens += job.lengths[end]
                end += 1
            if end == job.done:
                break
            work.parts.append((job, job.done, end))
        for job, _, _ in work.parts:
            self._jobs.remove(job)
            self._jobs.append(job)
        return work

    def _deliver(self, work: _Round, rows: np.ndarray) -> None:
        offset = 0
        for job, start, end in work.parts:
            if job.rows is None:
                job.rows = np.empty((len(job.texts), rows.shape[1]), dtype=np.float32)
            job.rows[start:end] = rows[offset : offset + end - start]
            offset += end - start
            job.done = end
            if job.finished:
                self._jobs.remove(job)
                if not job.future.done():
                    job.future.set_result(job.rows)

    def _fail(self, work: _Round, exc: Exception) -> None:
        for job, _, _ in work.parts:
            self._jobs.remove(job)
            if not job.future.done():
                job.future.set_exception(exc)

    async def _linger(self) -> None:
        """Under concurrent load, wait up to LINGER_SECONDS for more requests to join the
        next round: a request needs a few turns of the event loop (parsing, auth, budget
        hold) between arriving and reaching the queue, and a fuller round costs little
        more than a small one."""
        deadline = time.perf_counter() + LINGER_SECONDS
        while time.perf_counter() < deadline:
            waiting = sum(len(job.texts) - job.done for job in self._jobs)
            if waiting >= BATCH_TEXTS // 4:
                return
            await asyncio.sleep(0.001)

    def _encode(self, texts: list[str], lengths: list[int]) -> np.ndarray:
        assert self._encoder is not None
        return self._encoder.encode(texts, lengths)
