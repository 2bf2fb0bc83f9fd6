"""Vector stores (OpenAI's `/v1/vector_stores`): an org's knowledge bases and the files in
them. Creating a store or adding a file only writes rows: the file waits `in_progress`
until a replica's ingestion (services/ingestion.py) has chunked and embedded it. Another
org's store or file is a 404, the same as one that does not exist.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from modelmint.core.errors import InvalidRequestError, NotFoundError
from modelmint.core.ids import unix_seconds, utcnow
from modelmint.knowledge.preparation import unseal
from modelmint.privacy.crypto import Keyring
from modelmint.services.files import Files
from modelmint.services.knowledge_schemas import (
    VectorStoreCreate,
    VectorStoreFileCreate,
    VectorStoreUpdate,
    static_chunking,
)
from modelmint.store import knowledge_chunks as chunk_rows
from modelmint.store import vector_stores as rows
from modelmint.store.database import Database
from modelmint.store.vector_stores import FileCounts, Page, StoreFileRecord, VectorStoreRecord
from modelmint.tenancy.directory import Account

logger = logging.getLogger(__name__)

MAX_LIST = 100
MAX_FILES_PER_STORE = 10_000


def store_object(record: VectorStoreRecord, counts: FileCounts) -> dict[str, Any]:
    """OpenAI's `vector_store` object."""
    expires_at = record.expires_at
    if record.expired(utcnow()):
        status = "expired"
    else:
        status = "in_progress" if counts.in_progress else "completed"
    days = record.expires_after_days
    return {
        "id": record.id,
        "object": "vector_store",
        "created_at": unix_seconds(record.created_at),
        "name": record.name or "",
        "usage_bytes": counts.usage_bytes,
        "file_counts": {
            "in_progress": counts.in_progress,
            "completed": counts.completed,
            "failed": counts.failed,
            "cancelled": counts.cancelled,
            "total": counts.total,
        },
        "status": status,
        "expires_after": None if days is None else {"anchor": "last_active_at", "days": days},
        "expires_at": None if expires_at is None else unix_seconds(expires_at),
        "last_active_at": unix_seconds(record.last_active_at),
        "metadata": record.metadata or {},
    }


def store_file_object(record: StoreFileRecord) -> dict[str, Any]:
    """OpenAI's `vector_store.file` object."""
    return {
        "id": record.file_id,
        "object": "vector_store.file",
        "usage_bytes": record.usage_bytes,
        "created_at": unix_seconds(record.created_at),
        "vector_store_id": record.vector_store_id,
        "status": record.status,
        "last_error": record.last_error,
        "chunking_strategy": record.chunking,
        "attributes": record.attributes or {},
    }


def cursor_page(objects: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": objects,
        "first_id": objects[0]["id"] if objects else None,
        "last_id": objects[-1]["id"] if objects else None,
        "has_more": has_more,
    }


class VectorStores:
    """`embedding_model()` names the model new stores embed with (or raises a 400);
    `ingest_soon` wakes this replica's ingestion when a file starts waiting."""

    def __init__(
        self,
        db: Database,
        files: Files,
        keyring: Keyring,
        embedding_model: Callable[[], str],
        ingest_soon: Callable[[], None],
    ) -> None:
        self.db = db
        self.files = files
        self.keyring = keyring
        self.embedding_model = embedding_model
        self.ingest_soon = ingest_soon

    # stores -------------------------------------------------------------------------
    async def create(self, account: Account, body: VectorStoreCreate) -> dict[str, Any]:
        now = utcnow()
        record = VectorStoreRecord(
            id="vs_" + secrets.token_hex(12),
            org_id=account.org.id,
            name=body.name,
            description=body.description,
            metadata=body.metadata,
            embedding_model=self.embedding_model(),
            created_at=now,
            last_active_at=now,
            expires_after_days=body.expires_after.days if body.expires_after else None,
            revision=0,
        )
        chunking = static_chunking(body.chunking_strategy)
        members = [
            await self.member(account, record.id, file_id, chunking, None)
            for file_id in dict.fromkeys(body.file_ids)
        ]
        await self.db.write(rows.add_store, record, members)
        if members:
            self.ingest_soon()
        return await self._object(record)

    async def get(self, account: Account, store_id: str) -> VectorStoreRecord:
        record = await self.db.read(rows.find_store, account.org.id, store_id)
        if record is None:
            raise NotFoundError(f"No vector store found with id '{store_id}'.", param="id")
        return record

    async def _object(self, record: VectorStoreRecord) -> dict[str, Any]:
        counts = await self.db.read(rows.file_counts, [record.id])
        return store_object(record, counts.get(record.id, FileCounts()))

    async def retrieve(self, account: Account, store_id: str) -> dict[str, Any]:
        return await self._object(await self.get(account, store_id))

    async def usable(self, account: Account, store_id: str, param: str) -> VectorStoreRecord:
        """The caller's store, for searching it or adding to it: a 404 when it is not
        theirs, a 400 when it has expired (its chunks are deleted once it has)."""
        record = await self.get(account, store_id)
        if record.expired(utcnow()):
            raise InvalidRequestError(
                f"Vector store {store_id} has expired and its chunks are deleted; create a "
                "new one (set expires_after further out before a store expires to keep it).",
                param=param,
            )
        return record

    async def purge_expired(self) -> int:
        """The chore: the chunks of every store past its expiry deleted (the store and its
        file list stay, with status expired); how many chunks."""
        expired = await self.db.read(rows.expired_with_chunks, utcnow())
        if not expired:
            return 0
        deleted = await self.db.write(rows.delete_chunks, expired)
        logger.info("deleted %d chunks of %d expired vector stores", deleted, len(expired))
        return deleted

    async def update(
        self, account: Account, store_id: str, body: VectorStoreUpdate
    ) -> dict[str, Any]:
        given = body.model_fields_set
        if "expires_after" in given:
            record = await self.usable(account, store_id, "expires_after")
        else:
            record = await self.get(account, store_id)
        values: dict[str, Any] = {}
        if "name" in given:
            values["name"] = body.name
        if "metadata" in given:
            values["metadata"] = body.metadata
        if "expires_after" in given:
            values["expires_after_days"] = body.expires_after.days if body.expires_after else None
        if values:
            await self.db.write(rows.update_store, record.id, values)
            record = replace(record, **values)
        return await self._object(record)

    async def delete(self, account: Account, store_id: str) -> dict[str, Any]:
        record = await self.get(account, store_id)
        await self.db.write(rows.delete_store, record.org_id, record.id)
        return {"id": record.id, "object": "vector_store.deleted", "deleted": True}

    async def page(
        self,
        account: Account,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: Literal["asc", "desc"] = "desc",
    ) -> dict[str, Any]:
        _check_limit(limit)
        marks = [await self._store_mark(account, cursor) for cursor in (after, before)]
        page = Page(marks[0], marks[1], limit + 1, newest_first=order == "desc")
        found = await self.db.read(rows.list_stores, account.org.id, page)
        shown = found[:limit]
        counts = await self.db.read(rows.file_counts, [r.id for r in shown])
        objects = [store_object(r, counts.get(r.id, FileCounts())) for r in shown]
        return cursor_page(objects, len(found) > limit)

    async def _store_mark(self, account: Account, store_id: str | None):
        if store_id is None:
            return None
        record = await self.db.read(rows.find_store, account.org.id, store_id)
        if record is None:
            raise _bad_cursor(store_id)
        return record.created_at, record.id

    # files in a store ---------------------------------------------------------------
    async def member(
        self,
        account: Account,
        store_id: str,
        file_id: str,
        chunking: dict[str, Any],
        attributes: dict[str, Any] | None,
    ) -> StoreFileRecord:
        file = await self.files.get(account, file_id)  # a 404 for another org's file
        return StoreFileRecord(
            vector_store_id=store_id,
            file_id=file.id,
            org_id=account.org.id,
            key_id=account.principal.key_id,
            status="in_progress",
            last_error=None,
            chunking=chunking,
            attributes=attributes,
            usage_bytes=0,
            created_at=utcnow(),
        )

    async def add_file(
        self, account: Account, store_id: str, body: VectorStoreFileCreate
    ) -> dict[str, Any]:
        store = await self.usable(account, store_id, "vector_store_id")
        counts = (await self.db.read(rows.file_counts, [store.id])).get(store.id, FileCounts())
        if counts.total >= MAX_FILES_PER_STORE:
            raise InvalidRequestError(
                f"A vector store holds at most {MAX_FILES_PER_STORE} files; create another "
                "store or delete files you no longer need.",
                param="file_id",
            )
        chunking = static_chunking(body.chunking_strategy)
        member = await self.member(account, store.id, body.file_id, chunking, body.attributes)
        added = await self.db.write(rows.add_store_file, member)
        if added.status == "in_progress":
            self.ingest_soon()
        return store_file_object(added)

    async def get_file(self, account: Account, store_id: str, file_id: str) -> StoreFileRecord:
        store = await self.get(account, store_id)
        record = await self.db.read(rows.find_store_file, store.id, file_id)
        if record is None:
            raise NotFoundError(
                f"No file found with id '{file_id}' in vector store '{store_id}'.",
                param="file_id",
            )
        return record

    async def retrieve_file(self, account: Account, store_id: str, file_id: str) -> dict:
        return store_file_object(await self.get_file(account, store_id, file_id))

    async def update_file(
        self, account: Account, store_id: str, file_id: str, attributes: dict[str, Any] | None
    ) -> dict[str, Any]:
        record = await self.get_file(account, store_id, file_id)

        def write(connection) -> None:
            rows.update_store_file(connection, store_id, file_id, {"attributes": attributes})
            rows.bump_revision(connection, store_id)  # filters read the attributes

        await self.db.write(write)
        return store_file_object(replace(record, attributes=attributes))

    async def delete_file(self, account: Account, store_id: str, file_id: str) -> dict:
        record = await self.get_file(account, store_id, file_id)
        await self.db.write(rows.delete_store_file, record.vector_store_id, record.file_id)
        return {"id": record.file_id, "object": "vector_store.file.deleted", "deleted": True}

    async def page_files(
        self,
        account: Account,
        store_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: Literal["asc", "desc"] = "desc",
        only: list[str] | None = None,
    ) -> dict[str, Any]:
        """A page of the store's files (`only` these ids when given: a batch's)."""
        _check_limit(limit)
        store = await self.get(account, store_id)
        if status is not None and status not in rows.STATUSES:
            raise InvalidRequestError(
                f"filter must be one of {', '.join(rows.STATUSES)}.", param="filter"
            )
        marks = []
        for cursor in (after, before):
            found_mark = None
            if cursor is not None:
                mark = await self.db.read(rows.find_store_file, store.id, cursor)
                if mark is None:
                    raise _bad_cursor(cursor)
                found_mark = (mark.created_at, mark.file_id)
            marks.append(found_mark)
        page = Page(marks[0], marks[1], limit + 1, newest_first=order == "desc")
        found = await self.db.read(rows.list_store_files, store.id, status, page, only)
        return cursor_page([store_file_object(r) for r in found[:limit]], len(found) > limit)

    async def file_content(self, account: Account, store_id: str, file_id: str) -> dict:
        """The file's text as it was parsed, chunk by chunk (overlaps included)."""
        record = await self.get_file(account, store_id, file_id)
        stored = await self.db.read(chunk_rows.file_chunks, record.vector_store_id, file_id)
        texts = [unseal(self.keyring, store_id, c.key_id, c.content_blob)[0] for c in stored]
        return {
            "object": "vector_store.file_content.page",
            "data": [{"type": "text", "text": text} for text in texts],
            "has_more": False,
            "next_page": None,
        }


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidRequestError(f"limit must be 1 to {MAX_LIST}.", param="limit")


def _bad_cursor(value: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"No object {value!r} to page from; pass the first or last id of the previous page.",
        param="after",
    )
