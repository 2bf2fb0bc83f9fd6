"""Rows of vector stores and of the files in them: add, find (within one org), list a
page, update, count a store's files by status, delete (with the chunks), and the chunks
of expired stores found and deleted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from modelmint.store.tables import (
    knowledge_chunks,
    vector_store_file_batches,
    vector_store_files,
    vector_stores,
)

stores = vector_stores.c
members = vector_store_files.c
STATUSES = ("in_progress", "completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class VectorStoreRecord:
    id: str
    org_id: str
    name: str | None
    description: str | None
    metadata: dict[str, str] | None
    embedding_model: str
    created_at: datetime
    last_active_at: datetime
    expires_after_days: int | None
    revision: int

    @property
    def expires_at(self) -> datetime | None:
        days = self.expires_after_days
        return None if days is None else self.last_active_at + timedelta(days=days)

    def expired(self, now: datetime) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and expires_at <= now


@dataclass(frozen=True, slots=True)
class StoreFileRecord:
    vector_store_id: str
    file_id: str
    org_id: str
    key_id: str | None
    status: str
    last_error: dict[str, str] | None
    chunking: dict[str, Any]
    attributes: dict[str, str | float | bool] | None
    usage_bytes: int
    created_at: datetime
    lease_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class FileCounts:
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    usage_bytes: int = 0

    @property
    def total(self) -> int:
        return self.in_progress + self.completed + self.failed + self.cancelled


@dataclass(frozen=True, slots=True)
class Page:
    """A page of rows after `after` (or before `before`), newest first or oldest first."""

    after: tuple[datetime, str] | None
    before: tuple[datetime, str] | None
    limit: int
    newest_first: bool = True


def add_store(
    connection: Connection, record: VectorStoreRecord, files: Sequence[StoreFileRecord]
) -> None:
    """The store and its first files, in one transaction."""
    connection.execute(vector_stores.insert().values(**asdict(record)))
    for file in files:
        connection.execute(vector_store_files.insert().values(**asdict(file)))


def find_store(connection: Connection, org_id: str, store_id: str) -> VectorStoreRecord | None:
    """The org's store `store_id`; None when it is another org's or does not exist."""
    row = connection.execute(
        select(vector_stores).where(stores.id == store_id, stores.org_id == org_id)
    ).one_or_none()
    return None if row is None else VectorStoreRecord(**row._mapping)


def _paged(query, page: Page, created, key):
    """`query` cut to `page` with the keyset (created, key)."""
    if page.after is not None:
        query = query.where(_beyond(created, key, page.after, page.newest_first))
    if page.before is not None:
        query = query.where(_beyond(created, key, page.before, not page.newest_first))
    order = (created, key)
    descending = [c.desc() for c in order]
    return query.order_by(*(descending if page.newest_first else order)).limit(page.limit)


def _beyond(created, key, mark: tuple[datetime, str], later_first: bool):
    at, key_value = mark
    if later_first:
        return or_(created < at, and_(created == at, key < key_value))
    return or_(created > at, and_(created == at, key > key_value))


def list_stores(connection: Connection, org_id: str, page: Page) -> list[VectorStoreRecord]:
    query = select(vector_stores).where(stores.org_id == org_id)
    query = _paged(query, page, stores.created_at, stores.id)
    return [VectorStoreRecord(**row._mapping) for row in connection.execute(query)]


def update_store(connection: Connection, store_id: str, values: dict[str, Any]) -> None:
    connection.execute(update(vector_stores).where(stores.id == store_id).values(**values))


def touch_store(connection: Connection, store_id: str, now: datetime) -> None:
    """The store was used: its expiry, anchored at `last_active_at`, moves on."""
    update_store(connection, store_id, {"last_active_at": now})


def delete_store(connection: Connection, org_id: str, store_id: str) -> bool:
    found = connection.execute(
        delete(vector_stores).where(stores.id == store_id, stores.org_id == org_id)
    ).rowcount
    if found:
        connection.execute(delete(knowledge_chunks).where(chunk_store == store_id))
        connection.execute(delete(vector_store_files).where(members.vector_store_id == store_id))
        connection.execute(
            delete(vector_store_file_batches).where(
                vector_store_file_batches.c.vector_store_id == store_id
            )
        )
    return found > 0


chunk_store = knowledge_chunks.c.vector_store_id


def expired_with_chunks(connection: Connection, now: datetime) -> list[str]:
    """The stores past their expiry that still hold chunks."""
    dated = connection.execute(
        select(stores.id, stores.last_active_at, stores.expires_after_days).where(
            stores.expires_after_days.is_not(None)
        )
    ).all()
    expired = [r.id for r in dated if r.last_active_at + timedelta(r.expires_after_days) <= now]
    if not expired:
        return []
    held = select(chunk_store).where(chunk_store.in_(expired)).distinct()
    return [row[0] for row in connection.execute(held)]


def delete_chunks(connection: Connection, store_ids: Sequence[str]) -> int:
    """The chunks of `store_ids` deleted (their store and file rows stay); how many."""
    return connection.execute(delete(knowledge_chunks).where(chunk_store.in_(store_ids))).rowcount


def file_counts(connection: Connection, store_ids: Sequence[str]) -> dict[str, FileCounts]:
    """Each store's files by status and the bytes they use (stores without files absent)."""
    if not store_ids:
        return {}
    query = (
        select(
            members.vector_store_id,
            members.status,
            func.count(),
            func.coalesce(func.sum(members.usage_bytes), 0),
        )
        .where(members.vector_store_id.in_(list(store_ids)))
        .group_by(members.vector_store_id, members.status)
    )
    totals: dict[str, dict[str, int]] = {}
    for store_id, status, count, used in connection.execute(query):
        mine = totals.setdefault(store_id, {"usage_bytes": 0})
        mine[status] = int(count)
        mine["usage_bytes"] += int(used)
    return {store_id: FileCounts(**values) for store_id, values in totals.items()}


def add_store_file(connection: Connection, record: StoreFileRecord) -> StoreFileRecord:
    """The file in the store: added, or the row already there when it was added before."""
    found = find_store_file(connection, record.vector_store_id, record.file_id)
    if found is not None:
        return found
    connection.execute(vector_store_files.insert().values(**asdict(record)))
    return record


def find_store_file(connection: Connection, store_id: str, file_id: str) -> StoreFileRecord | None:
    row = connection.execute(
        select(vector_store_files).where(
            members.vector_store_id == store_id, members.file_id == file_id
        )
    ).one_or_none()
    return None if row is None else StoreFileRecord(**row._mapping)


def list_store_files(
    connection: Connection,
    store_id: str,
    status: str | None,
    page: Page,
    only: Sequence[str] | None = None,
) -> list[StoreFileRecord]:
    """A page of the store's files (by status when given; of `only` these when given)."""
    query = select(vector_store_files).where(members.vector_store_id == store_id)
    if status is not None:
        query = query.where(members.status == status)
    if only is not None:
        query = query.where(members.file_id.in_(list(only)))
    query = _paged(query, page, members.created_at, members.file_id)
    return [StoreFileRecord(**row._mapping) for row in connection.execute(query)]


def update_store_file(
    connection: Connection, store_id: str, file_id: str, values: dict[str, Any]
) -> None:
    connection.execute(
        update(vector_store_files)
        .where(members.vector_store_id == store_id, members.file_id == file_id)
        .values(**values)
    )


def delete_store_file(connection: Connection, store_id: str, file_id: str) -> bool:
    """The file leaves the store with its chunks; a store whose searchable chunks change
    gets a new revision."""
    found = find_store_file(connection, store_id, file_id)
    if found is None:
        return False
    connection.execute(
        delete(vector_store_files).where(
            members.vector_store_id == store_id, members.file_id == file_id
        )
    )
    connection.execute(
        delete(knowledge_chunks).where(
            chunk_store == store_id, knowledge_chunks.c.file_id == file_id
        )
    )
    if found.status == "completed":
        bump_revision(connection, store_id)
    return True


def stores_holding(connection: Connection, org_id: str, file_id: str) -> list[str]:
    """The org's stores that hold `file_id` (a deleted file leaves them all)."""
    query = select(members.vector_store_id).where(
        members.org_id == org_id, members.file_id == file_id
    )
    return list(connection.execute(query).scalars())


def detach_file(connection: Connection, org_id: str, file_id: str) -> None:
    """A deleted file leaves every store of the org that holds it, with its chunks."""
    for store_id in stores_holding(connection, org_id, file_id):
        delete_store_file(connection, store_id, file_id)


def bump_revision(connection: Connection, store_id: str) -> None:
    connection.execute(
        update(vector_stores).where(stores.id == store_id).values(revision=stores.revision + 1)
    )
