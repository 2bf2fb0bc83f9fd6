"""The `embeddings` engine: a sentence-transformers model loaded from a local folder
(run by runtime/sentence_encoder.py).

`count` tokenizes a request's inputs before it is admitted (on a thread of its own, with a
tokenizer of its own), so the budget holds exactly what will be billed and an input longer
than the model's sequence limit is refused with the numbers rather than silently
truncated. Encoding runs on one worker thread so the event loop stays free, in rounds:
the waiting requests take turns filling a round (up to BATCH_TEXTS texts and ROUND_TOKENS
tokens), and a request that had texts in a round goes to the back of the line, so a large
request is cut into rounds that interleave with everyone else's. A round is encoded in
short forward passes (shortest texts first), each pass's rows are handed out as soon as it
is done, and a request that arrives while a round runs ends that round after the current
pass: the rest goes back to its requests, and the newcomer is in the next round's first
pass. A small request thus waits for about one pass, not for a large request to finish.
Under concurrent load a round waits up to LINGER_SECONDS to fill; past `max_queue`
waiting requests, callers get 429.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.admission import AdmissionGate, Reservation
from modelmint.runtime.engine import (
    EMBEDDING_MODELS_DO_NOT_GENERATE,
    Embeddings,
    EngineStats,
    GenerationEvent,
    GenerationRequest,
    Measured,
    Meter,
)
from modelmint.runtime.limits import check_inputs_fit
from modelmint.runtime.sentence_encoder import SentenceEncoder

BATCH_TEXTS = 256
# a turn of a large request: ~1.5 s of all-MiniLM-L6-v2 on two cores, which other large
# requests wait for (small ones get in after one forward pass)
ROUND_TOKENS = 8192
LINGER_SECONDS = 0.005
# inputs this short are counted on the event loop: tens of microseconds, less than a
# hop to the counting thread costs
INLINE_COUNT_CHARS = 4096


@dataclass(eq=False)
class _Job:
    """One request's texts: those not yet in a round (`todo`), and the rows so far."""

    texts: list[str]
    lengths: list[int]
    future: asyncio.Future[np.ndarray]
    rows: np.ndarray
    todo: deque[int] = field(init=False)
    left: int = field(init=False)  # texts not encoded yet

    def __post_init__(self) -> None:
        self.todo = deque(range(len(self.texts)))
        self.left = len(self.texts)


@dataclass
class _Round:
    """Which job's text each position of one encoder call is, and which are done."""

    items: list[tuple[_Job, int]] = field(default_factory=list)
    tokens: int = 0
    done: set[int] = field(default_factory=set)

    @property
    def jobs(self) -> list[_Job]:
        return list(dict.fromkeys(job for job, _ in self.items))


class SentenceTransformersEngine:
    kind = "embeddings"
    scores_prompts = False

    def __init__(
        self,
        path: Path,
        context_length: int = 256,
        threads: int = 2,
        max_queue: int = 64,
        encoder: SentenceEncoder | None = None,  # one already loaded (`start` loads `path`)
    ) -> None:
        self.path = path
        self.context_length = context_length
        self.threads = threads
        self.gate = AdmissionGate(BATCH_TEXTS, max_queue)
        self._encoder: SentenceEncoder | None = encoder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-count")
        self._jobs: deque[_Job] = deque()
        self._drainer: asyncio.Task | None = None
        # set when a request arrives: the round being encoded stops after its current pass
        self._newcomer = threading.Event()

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

    @property
    def queued(self) -> int:
        """Requests whose vectors are still to be made (a cancelled one leaves at once)."""
        return len(self._jobs)

    def measure(self, request: GenerationRequest) -> Measured:
        raise InvalidRequestError(EMBEDDING_MODELS_DO_NOT_GENERATE, param="model")

    def generate(
        self, work: Measured, meter: Meter, reservation: Reservation | None = None
    ) -> AsyncIterator[GenerationEvent]:
        raise InvalidRequestError(EMBEDDING_MODELS_DO_NOT_GENERATE, param="model")

    async def count(self, texts: Sequence[str], truncate: bool = False) -> list[int]:
        """Each input's token count as the model sees it; raises for one too long, or with
        `truncate` counts the first tokens it reads (the encoder cuts the rest)."""
        if self._encoder is None:
            raise InvalidRequestError("The model is not loaded yet.")
        if sum(map(len, texts)) <= INLINE_COUNT_CHARS:
            lengths = self._encoder.count_tokens(texts)
        else:
            loop = asyncio.get_running_loop()
            lengths = await loop.run_in_executor(self._counter, self._encoder.count_tokens, texts)
        if truncate:
            return [min(n, self.context_length) for n in lengths]
        check_inputs_fit(lengths, self.context_length)
        return lengths

    async def embed(self, texts: Sequence[str], lengths: Sequence[int] | None = None) -> Embeddings:
        """One unit-length row per text; `lengths` are the texts' counts from `count`."""
        lengths = list(lengths) if lengths is not None else await self.count(texts)
        rows = np.empty((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return Embeddings(rows, 0)
        async with self.gate.slot():
            future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
            self._jobs.append(_Job(list(texts), lengths, future, rows))
            self._newcomer.set()  # a round under way ends after its current pass
            if self._drainer is None or self._drainer.done():
                self._drainer = asyncio.create_task(self._drain(), name="embeddings-batcher")
            await future
        return Embeddings(rows, sum(lengths))

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        concurrent = False
        while self._jobs:
            if concurrent:
                await self._linger()
            work = self._next_round()
            if not work.items:
                continue
            self._newcomer.clear()
            try:
                await loop.run_in_executor(self._executor, self._encode, work, loop)
            except Exception as exc:  # the round failed: each of its callers hears of it
                self._fail(work, exc)
            self._put_back(work)
            concurrent = len(work.jobs) > 1 or bool(self._jobs)

    def _next_round(self) -> _Round:
        """Texts from the waiting jobs in turn, up to the round's budget; the jobs that
        took part go to the back of the line."""
        work = _Round()
        for job in list(self._jobs):
            if job.future.done():  # its caller went away
                self._jobs.remove(job)
                continue
            taken = 0
            while job.todo and len(work.items) < BATCH_TEXTS:
                length = job.lengths[job.todo[0]]
                if work.tokens + length > ROUND_TOKENS and work.items:
                    break
                work.items.append((job, job.todo.popleft()))
                work.tokens += length
                taken += 1
            if not taken:
                break
        for job in work.jobs:
            self._jobs.remove(job)
            self._jobs.append(job)
        return work

    def _encode(self, work: _Round, loop: asyncio.AbstractEventLoop) -> None:
        """On the worker thread: each forward pass's rows go to the loop as they come.
        A newcomer ends the round early, but only once every job in it has had rows:
        short texts come first, so a large request's long texts would otherwise never
        be reached while small requests keep arriving."""
        assert self._encoder is not None
        texts = [job.texts[i] for job, i in work.items]
        lengths = [job.lengths[i] for job, i in work.items]
        waiting = set(work.jobs)  # jobs without a row from this round yet
        passes = self._encoder.encode_batches(texts, lengths)
        try:
            for positions, vectors in passes:
                loop.call_soon_threadsafe(self._deliver, work, positions, vectors)
                waiting.difference_update(work.items[p][0] for p in positions)
                if not waiting and self._newcomer.is_set():
                    return
        finally:
            passes.close()  # on this thread, not whenever it is collected

    def _deliver(self, work: _Round, positions: list[int], vectors: np.ndarray) -> None:
        for position, vector in zip(positions, vectors, strict=True):
            job, index = work.items[position]
            job.rows[index] = vector
            job.left -= 1
            work.done.add(position)
            if job.left == 0:
                self._jobs.remove(job)
                if not job.future.done():
                    job.future.set_result(job.rows)

    def _put_back(self, work: _Round) -> None:
        """Texts of a round ended early go back to the front of their jobs' `todo`."""
        for position in reversed(range(len(work.items))):
            job, index = work.items[position]
            if position not in work.done and not job.future.done():
                job.todo.appendleft(index)

    def _fail(self, work: _Round, exc: Exception) -> None:
        for job in work.jobs:
            if job in self._jobs:
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
            if sum(len(job.todo) for job in self._jobs) >= BATCH_TEXTS // 4:
                return
            await asyncio.sleep(0.001)
