"""File batches (OpenAI's `/v1/vector_stores/{id}/file_batches`): several files added to
a store at once, followed and cancelled together. A batch is `in_progress` while any of
its files is, then `completed` (`failed` when every file failed); cancelling it cancels
its files not yet ingested."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any, Literal

from modelmint.core.errors import NotFoundError
from modelmint.core.ids import unix_seconds, utcnow
from modelmint.services.knowledge_schemas import VectorStoreFileBatchCreate, static_chunking
from modelmint.services.vector_stores import VectorStores
from modelmint.store import file_batches as rows
from modelmint.store.file_batches import BatchRecord
from modelmint.store.vector_stores import FileCounts
from modelmint.tenancy.directory import Account


def batch_object(batch: BatchRecord, counts: FileCounts) -> dict[str, Any]:
    if batch.cancelled:
        status = "cancelled"
    elif counts.in_progress:
        status = "in_progress"
    elif counts.total and counts.failed == counts.total:
        status = "failed"
    else:
        status = "completed"
    return {
        "id": batch.id,
        "object": "vector_store.files_batch",
        "created_at": unix_seconds(batch.created_at),
        "vector_store_id": batch.vector_store_id,
        "status": status,
        "file_counts": {
            "in_progress": counts.in_progress,
            "completed": counts.completed,
            "failed": counts.failed,
            "cancelled": counts.cancelled,
            "total": counts.total,
        },
    }


class FileBatches:
    def __init__(self, stores: VectorStores) -> None:
        self.stores = stores
        self.db = stores.db

    async def create(
        self, account: Account, store_id: str, body: VectorStoreFileBatchCreate
    ) -> dict[str, Any]:
        store = await self.stores.usable(account, store_id, "vector_store_id")
        chunking = static_chunking(body.chunking_strategy)
        file_ids = list(dict.fromkeys(body.file_ids))
        members = [
            await self.stores.member(account, store.id, file_id, chunking, body.attributes)
            for file_id in file_ids
        ]
        batch = BatchRecord(
            "vsfb_" + secrets.token_hex(12), store.id, account.org.id, file_ids, utcnow()
        )
        await self.db.write(rows.add_batch, batch, members)
        self.stores.ingest_soon()
        return await self._object(batch)

    async def _object(self, batch: BatchRecord) -> dict[str, Any]:
        return batch_object(batch, await self.db.read(rows.batch_counts, batch))

    async def get(self, account: Account, store_id: str, batch_id: str) -> BatchRecord:
        store = await self.stores.get(account, store_id)
        batch = await self.db.read(rows.find_batch, store.id, batch_id)
        if batch is None:
            raise NotFoundError(
                f"No file batch found with id '{batch_id}' in vector store '{store_id}'.",
                param="batch_id",
            )
        return batch

    async def retrieve(self, account: Account, store_id: str, batch_id: str) -> dict:
        return await self._object(await self.get(account, store_id, batch_id))

    async def cancel(self, account: Account, store_id: str, batch_id: str) -> dict:
        batch = await self.get(account, store_id, batch_id)
        await self.db.write(rows.cancel_batch, batch)
        return await self._object(replace(batch, cancelled=True))

    async def page_files(
        self,
        account: Account,
        store_id: str,
        batch_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: Literal["asc", "desc"] = "desc",
    ) -> dict[str, Any]:
        batch = await self.get(account, store_id, batch_id)
        return await self.stores.page_files(
            account, store_id, status=status, after=after, before=before, limit=limit,
            order=order, only=batch.file_ids,
        )  # fmt: skip
