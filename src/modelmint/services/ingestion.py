"""Ingestion: files waiting in vector stores become searchable chunks, in the background.

Each replica runs one loop. It claims a waiting file (a lease in the database, so a file
left by a replica that died is claimed again once the lease runs out), reads and parses
it off the event loop, cuts it into chunks, embeds them with the store's embeddings
model in batches (renewing the lease between batches, and stopping if the file was
removed meanwhile), and writes the chunks, the file's `completed` status and the store's
new revision in one transaction. A file that cannot be parsed fails alone, with the
reason in its `last_error`. The embedded tokens are billed to the key that added the
file, held against its budgets before the work starts (endpoint `vector_stores`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np

from modelmint.core.errors import ModelmintError
from modelmint.core.ids import utcnow
from modelmint.core.types import Usage
from modelmint.knowledge.documents import DocumentError
from modelmint.knowledge.preparation import PreparedChunk, embedding_windows, prepare, seal
from modelmint.knowledge.terms import Terms
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.vault import FileVault
from modelmint.services.context import Endpoint, Estimate, RequestContext, Status, Used
from modelmint.services.embedding_fit import fitted_counts
from modelmint.services.ids import new_request_id
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.owners import owner_account
from modelmint.store import files as file_rows
from modelmint.store import knowledge_chunks as queue
from modelmint.store import vector_stores as store_rows
from modelmint.store.database import Database
from modelmint.store.knowledge_chunks import ChunkRow
from modelmint.store.vector_stores import StoreFileRecord

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
POLL_SECONDS = 5.0  # files added on other replicas, or left by dead ones, wait at most this
EMBED_BATCH = 64  # windows per embeddings call; the lease is renewed between calls
WINDOW_MARGIN = 8  # tokens left free in a window for the model's special tokens
MAX_FILE_BYTES = 64 * 1024 * 1024  # a file read whole into memory to be parsed
MAX_CHUNKS = 20_000  # a file's chunks: about 7 minutes of embedding on 2 cores


class Abandoned(Exception):
    """The file left the queue while it was being worked on."""


class Ingestion:
    def __init__(
        self,
        db: Database,
        vault: FileVault,
        keyring: Keyring,
        models: Models,
        metering: Metering,
        terms: Terms,
    ) -> None:
        self.db = db
        self.vault = vault
        self.keyring = keyring
        self.models = models
        self.metering = metering
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None
        # parsing and chunking are CPU work: one thread, so ingestion never takes both
        # cores from serving
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingestion")
        self.terms = terms
        self._last_org = ""  # orgs take turns: the next file is the next org's

    def soon(self) -> None:
        """A file is waiting: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="ingestion")

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        self._cpu.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            try:
                while await self.work_once():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: try again at the next poll
                logger.exception("ingestion could not claim files")

    async def work_once(self) -> bool:
        """Claim one waiting file and ingest it; False when none was waiting."""
        now = utcnow()
        claimed = await self.db.write(queue.claim_files, now, now + LEASE, 1, self._last_org)
        if not claimed:
            return False
        record = claimed[0]
        self._last_org = record.org_id
        try:
            await self._ingest(record)
        except Abandoned:
            logger.info(
                "file %s left store %s during ingestion", record.file_id, record.vector_store_id
            )
        except Exception as exc:
            logger.exception("ingesting file %s failed", record.file_id)
            await self._fail(record, "server_error", _server_error(exc))
        return True

    async def _fail(self, record: StoreFileRecord, code: str, message: str) -> None:
        await self.db.write(queue.fail_file, record, code, message)

    async def _ingest(self, record: StoreFileRecord) -> None:
        started = time.perf_counter()
        try:
            chunks = await self._prepared(record)
        except DocumentError as exc:
            unsupported = "cannot be searched" in str(exc)
            await self._fail(
                record, "unsupported_file" if unsupported else "invalid_file", str(exc)
            )
            return
        store = await self.db.read(store_rows.find_store, record.org_id, record.vector_store_id)
        if store is None:
            raise Abandoned
        account = await owner_account(self.db, record.org_id, record.key_id, "inference")
        spec, engine = await self.models.get(account, store.embedding_model)
        windows, owners = _windows(chunks, engine.context_length - WINDOW_MARGIN)
        lengths = await fitted_counts(engine, windows)
        context = RequestContext(account, new_request_id(), Endpoint.VECTOR_STORES, spec.name)
        try:
            ticket = await self.metering.admit_job(context, Estimate(sum(lengths)), False)
        except ModelmintError as exc:
            await self._fail(record, "server_error", f"Not ingested: {exc.message}")
            return
        embedded, status = 0, Status.ERROR
        try:
            vectors = np.empty((len(windows), 0), np.float32)
            parts = []
            for first in range(0, len(windows), EMBED_BATCH):
                last = first + EMBED_BATCH
                result = await engine.embed(windows[first:last], lengths[first:last])
                parts.append(np.asarray(result.vectors, dtype=np.float32))
                embedded += result.prompt_tokens
                if not await self.db.write(queue.renew_lease, record, utcnow() + LEASE):
                    status = Status.CANCELLED
                    raise Abandoned
            vectors = np.concatenate(parts) if parts else vectors
            rows, usage = await self._sealed(record, chunks, _means(vectors, owners, len(chunks)))
            if not await self.db.write(queue.finish_file, record, rows, usage):
                status = Status.CANCELLED
                raise Abandoned
            status = Status.OK
        finally:
            used = Used(Usage(embedded, 0), time.perf_counter() - started)
            await self.metering.settle_job(ticket, used, status)
        logger.info(
            "ingested file %s: %d chunks in %.1f s",
            record.file_id,
            len(chunks),
            time.perf_counter() - started,
        )

    async def _prepared(self, record: StoreFileRecord) -> list[PreparedChunk]:
        file = await self.db.read(file_rows.find_file, record.org_id, record.file_id)
        if file is None:
            raise Abandoned
        sizes = record.chunking["static"]
        if file.bytes > MAX_FILE_BYTES:
            raise DocumentError(
                f"{file.filename} is {file.bytes:,} bytes; a knowledge base reads files of up "
                f"to {MAX_FILE_BYTES:,} bytes. Split it into smaller files."
            )

        def work() -> list[PreparedChunk]:
            content = b"".join(self.vault.read(file.org_id, file.id, file.key_id))
            return prepare(
                file.filename,
                content,
                self.terms,
                sizes["max_chunk_size_tokens"],
                sizes["chunk_overlap_tokens"],
            )

        chunks = await asyncio.get_running_loop().run_in_executor(self._cpu, work)
        if len(chunks) > MAX_CHUNKS:
            raise DocumentError(
                f"{file.filename} makes {len(chunks):,} chunks; a file may make at most "
                f"{MAX_CHUNKS:,}. Split it, or use larger chunks."
            )
        return chunks

    async def _sealed(
        self, record: StoreFileRecord, chunks: list[PreparedChunk], vectors: np.ndarray
    ) -> tuple[list[ChunkRow], int]:
        """The rows to write, encrypted off the event loop, and the bytes they use."""
        store_id = record.vector_store_id

        def work() -> tuple[list[ChunkRow], int]:
            rows, usage = [], 0
            for position, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
                key_id, blob = seal(self.keyring, store_id, chunk.text, chunk.terms)
                embedding = vector.astype("<f4").tobytes()
                rows.append(
                    ChunkRow(record.file_id, position, chunk.tokens, key_id, blob, embedding)
                )
                usage += len(chunk.text.encode()) + len(embedding)
            return rows, usage

        return await asyncio.get_running_loop().run_in_executor(self._cpu, work)


def _windows(chunks: Sequence[PreparedChunk], size: int) -> tuple[list[str], list[int]]:
    """Every chunk's embedding windows, flat, and the chunk each belongs to."""
    windows, owners = [], []
    for index, chunk in enumerate(chunks):
        for window in embedding_windows(chunk.text, size):
            windows.append(window)
            owners.append(index)
    return windows, owners


def _means(vectors: np.ndarray, owners: list[int], count: int) -> np.ndarray:
    """Each chunk's vector: the mean of its windows' unit vectors."""
    if count == 0:
        return np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), np.float32)
    sums = np.zeros((count, vectors.shape[1]), np.float32)
    np.add.at(sums, np.asarray(owners), vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return sums / np.where(norms > 0, norms, 1.0)


def _server_error(exc: Exception) -> str:
    if isinstance(exc, ModelmintError):
        return f"Not ingested: {exc.message}"
    return "The file could not be ingested because of a server error; add it again."
