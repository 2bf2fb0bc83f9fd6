"""The fine-tuning worker: claims jobs from the database, runs each on a thread, keeps its
lease and stops it when it is cancelled.

The job rows are the queue (`store/fine_tuning.py`): a worker takes a job with one
conditional UPDATE, renews its lease every `renew_seconds` (which is also how it learns
of a cancel), and a job whose worker died is taken by another once the lease runs out
and resumes from its last checkpoint. The platform around the job (its files, budget,
ledger and registry rows) is reached through `JobPlatform`, which services provide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from modelmint.core.activity import ServingActivity
from modelmint.core.ids import utcnow
from modelmint.store import fine_tuning as rows
from modelmint.store.database import Database
from modelmint.store.fine_tuning import CheckpointRecord, EventRecord, JobRecord
from modelmint.training.classifier_job import ClassifierSetup, run_classifier_fit
from modelmint.training.fine_tune import JobFailed, JobSetup, Tally, run_fine_tune

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    worker_id: str = ""
    lease_seconds: float = 30.0  # a dead worker's job waits this long for another
    renew_seconds: float = 1.0  # also the most a cancel waits to be seen
    poll_seconds: float = 2.0  # between looks at an empty queue
    checkpoint_every: int = 10  # optimizer steps between checkpoints
    quant: str = "base"
    quality_set: Path | None = None  # what the evaluation asks (None: the shipped set)
    replay: float = 1.0  # the base's own examples mixed in per customer example
    yield_to: Path | None = None  # a data dir whose server's requests pause the training

    def named(self) -> WorkerOptions:
        from dataclasses import replace

        if self.worker_id:
            return self
        return replace(self, worker_id=f"{socket.gethostname()}-{secrets.token_hex(4)}")


class JobPlatform(Protocol):
    """What a job needs from the rest of the platform."""

    async def setup(
        self, job: JobRecord, options: WorkerOptions
    ) -> JobSetup | ClassifierSetup: ...
    async def open_file(self, job: JobRecord, file_id: str) -> Iterator[bytes]: ...
    async def hold(self, job: JobRecord, worst_tokens: int) -> str: ...
    async def bill(
        self, job: JobRecord, trained_tokens: int, seconds: float, cancelled: bool
    ) -> None: ...
    async def release(self, job: JobRecord) -> None: ...
    async def save_result(self, job: JobRecord, filename: str, content: bytes) -> str: ...
    async def register(self, job: JobRecord, model_id: str, path: Path) -> None: ...


def run_job(job: JobRecord, setup: JobSetup | ClassifierSetup, io: ThreadIO, tally: Tally) -> None:
    """A chat model's job trains a LoRA adapter; an embeddings model's, a classifier."""
    if isinstance(setup, ClassifierSetup):
        run_classifier_fit(job, setup, io, tally)
    else:
        run_fine_tune(job, setup, io, tally)


class Stopped(Exception):
    """The job was cancelled, or this worker lost its lease."""


@dataclass
class _Lease:
    cancelled: bool = False
    lost: bool = False

    @property
    def stopping(self) -> bool:
        return self.cancelled or self.lost


class Worker:
    def __init__(
        self,
        db: Database,
        platform: JobPlatform,
        options: WorkerOptions,
        pipeline: Callable[[JobRecord, Any, ThreadIO, Tally], None] | None = None,
    ) -> None:
        self.db = db
        self.platform = platform
        self.options = options.named()
        self.pipeline = pipeline or run_job  # what a job runs, on a thread
        self._stop = asyncio.Event()

    @property
    def id(self) -> str:
        return self.options.worker_id

    async def run(self, stop: asyncio.Event) -> None:
        """Take and run jobs until `stop` is set. A job running then is given up at once
        (within `renew_seconds`) and left for another worker to resume."""
        self._stop = stop
        logger.info("worker %s is waiting for fine-tuning jobs", self.id)
        while not stop.is_set():
            if not await self.run_one():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.options.poll_seconds)

    async def run_one(self) -> bool:
        """Claim one job and run it to its end; False when there was none to claim."""
        job = await self._claim()
        if job is None:
            return False
        logger.info("worker %s took job %s (attempt %d)", self.id, job.id, job.attempts)
        await self._run(job)
        return True

    async def _claim(self) -> JobRecord | None:
        now = utcnow()
        for job_id in await self.db.read(rows.claimable, now):
            until = now + timedelta(seconds=self.options.lease_seconds)
            if await self.db.write(rows.claim_job, job_id, self.id, now, until):
                return await self.db.read(rows.find_job, job_id)
        return None

    async def _run(self, job: JobRecord) -> None:
        lease = _Lease(cancelled=job.cancel_requested)
        io = ThreadIO(self, job, lease, asyncio.get_running_loop())
        keeper = asyncio.create_task(self._keep(job, lease))
        tally = Tally()
        try:
            setup = await self.platform.setup(job, self.options)
            await asyncio.to_thread(self.pipeline, job, setup, io, tally)
            if lease.stopping and not await self._succeeded(job):
                raise Stopped
        except Stopped:
            if not lease.lost:
                await self._cancelled(job, tally)
        except JobFailed as failure:
            await self._failed(job, tally, failure)
        except Exception:
            logger.exception("job %s failed", job.id)
            message = "The job failed on the worker; the server log has the details."
            await self._failed(job, tally, JobFailed("server_error", message))
        finally:
            keeper.cancel()
            await self.db.write(rows.update_job, job.id, self.id, {"lease_until": None})

    async def _succeeded(self, job: JobRecord) -> bool:
        """Whether the job's row says it succeeded: a cancel that arrives after the last
        step must not bill the job again or unsay its model."""
        found = await self.db.read(rows.find_job, job.id)
        return found is not None and found.status == "succeeded"

    async def _keep(self, job: JobRecord, lease: _Lease) -> None:
        every = self.options.renew_seconds
        while not lease.lost:
            await asyncio.sleep(every)
            if self._stop.is_set():
                logger.info("worker %s is stopping; job %s is left to resume", self.id, job.id)
                lease.lost = True
                return
            until = utcnow() + timedelta(seconds=self.options.lease_seconds)
            try:
                state = await self.db.write(rows.renew_lease, job.id, self.id, until)
            except Exception:  # the database is away: keep training, try again
                logger.warning("could not renew the lease of job %s", job.id, exc_info=True)
                continue
            if state is None:
                logger.warning("worker %s lost the lease of job %s", self.id, job.id)
                lease.lost = True
            elif state:
                lease.cancelled = True

    async def _cancelled(self, job: JobRecord, tally: Tally) -> None:
        await self.platform.bill(job, tally.trained_tokens, tally.seconds, cancelled=True)
        await self._finish(job, "cancelled", tally, None)
        await self.event(job, f"The job was cancelled after {tally.trained_tokens} trained tokens.")

    async def _failed(self, job: JobRecord, tally: Tally, failure: JobFailed) -> None:
        if tally.trained_tokens:
            await self.platform.bill(job, tally.trained_tokens, tally.seconds, cancelled=True)
        else:
            await self.platform.release(job)
        error = {"code": failure.code, "message": failure.message, "param": failure.param}
        await self._finish(job, "failed", tally, error)
        await self.event(job, failure.message, level="error")

    async def _finish(
        self, job: JobRecord, status: str, tally: Tally, error: dict[str, Any] | None
    ) -> None:
        values = {"status": status, "error": error, "trained_tokens": tally.trained_tokens}
        values |= {"finished_at": utcnow(), "estimated_finish": None}
        await self.db.write(rows.update_job, job.id, self.id, values)

    async def event(
        self,
        job: JobRecord,
        message: str,
        data: dict[str, Any] | None = None,
        level: str = "info",
        kind: str = "message",
    ) -> None:
        record = EventRecord(
            "ftevent-" + secrets.token_hex(12), job.id, utcnow(), level, kind, message[:2000], data
        )
        await self.db.write(rows.add_event, record)


class ThreadIO:
    """`JobIO` for the pipeline's thread: each call runs on the worker's event loop and
    waits for it; a stopped job raises `Stopped` at the next call."""

    def __init__(
        self, worker: Worker, job: JobRecord, lease: _Lease, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.worker, self.job, self.lease, self.loop = worker, job, lease, loop
        where = worker.options.yield_to
        self.serving = ServingActivity(where) if where is not None else None

    def _wait(self, work: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()  # type: ignore[arg-type]

    def _check(self) -> None:
        if self.lease.stopping:
            raise Stopped

    def stopping(self) -> bool:
        return self.lease.stopping

    def pause(self) -> float:
        if self.serving is None:
            return 0.0
        return self.serving.wait_while_active(give_up=self.stopping)

    def event(self, message: str, data: dict[str, Any] | None = None, level: str = "info") -> None:
        self._check()
        self._wait(self.worker.event(self.job, message, data, level))

    def metrics(self, message: str, data: dict[str, Any]) -> None:
        self._wait(self.worker.event(self.job, message, data, kind="metrics"))

    def update(self, **values: Any) -> None:
        db, worker = self.worker.db, self.worker
        self._wait(db.write(rows.update_job, self.job.id, worker.id, values))

    def checkpoint(self, step: int, metrics: dict[str, Any]) -> None:
        record = CheckpointRecord(
            "ftckpt-" + secrets.token_hex(12), self.job.id, step, metrics, utcnow()
        )
        self._wait(self.worker.db.write(rows.add_checkpoint, record))

    def read_file(self, file_id: str) -> Iterator[bytes]:
        return self._wait(self.worker.platform.open_file(self.job, file_id))

    def hold(self, worst_tokens: int) -> str:
        self._check()
        return self._wait(self.worker.platform.hold(self.job, worst_tokens))

    def bill(self, trained_tokens: int, compute_seconds: float, cancelled: bool) -> None:
        platform = self.worker.platform
        self._wait(platform.bill(self.job, trained_tokens, compute_seconds, cancelled))

    def save_result(self, filename: str, content: bytes) -> str:
        return self._wait(self.worker.platform.save_result(self.job, filename, content))

    def register(self, model_id: str, path: Path) -> None:
        self._check()
        self._wait(self.worker.platform.register(self.job, model_id, path))
