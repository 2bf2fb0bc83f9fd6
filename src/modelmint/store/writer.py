"""One writer thread that commits queued writes together (group commit).

Each job is `fn(connection, *args)`. The thread takes every job waiting, runs them in one
transaction and commits once; each caller's future resolves after that commit. If one
job fails, the batch is rolled back and every job is run again in its own transaction,
so one bad job cannot lose the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

logger = logging.getLogger(__name__)

MAX_BATCH = 256


@dataclass
class Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: Future[Any] | None = field(default=None)
    on_error: Callable[[Exception], None] | None = None  # for jobs nobody waits for


class GroupCommitWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="sql-writer", daemon=True)
        self._thread.start()

    async def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        future: Future[Any] = Future()
        self._jobs.put(Job(fn, args, future))
        return await asyncio.wrap_future(future)

    def submit_nowait(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._jobs.put(Job(fn, args, on_error=on_error))

    def close(self) -> None:
        """Finish the queued jobs, then stop the thread."""
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch, stop = [first], False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[Job]) -> None:
        try:
            with self.engine.begin() as connection:
                results = [job.fn(connection, *job.args) for job in batch]
        except Exception as error:
            if len(batch) == 1:
                self._fail(batch[0], error)
                return
            for job in batch:  # find the bad one; the rest still commit
                self._run_batch([job])
            return
        for job, result in zip(batch, results, strict=True):
            if job.future is not None:
                with contextlib.suppress(InvalidStateError):  # its waiter was cancelled
                    job.future.set_result(result)

    @staticmethod
    def _fail(job: Job, error: Exception) -> None:
        if job.future is not None and not job.future.cancelled():
            with contextlib.suppress(InvalidStateError):
                job.future.set_exception(error)
        elif job.on_error is not None:
            try:
                job.on_error(error)
            except Exception:
                logger.exception("a queued write failed (%s), and so did its fallback", error)
        else:
            logger.error("a queued write failed: %s", error)
