"""The ingestion queue and its results: a replica claims files waiting in a vector store
(a lease, renewed while it works), and writes a finished file's chunks, its new status
and the store's new revision in one transaction; a store's searchable chunks are read
back in the order they were written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, case, or_, select, update

from modelmint.store.tables import files, knowledge_chunks, vector_store_files
from modelmint.store.vector_stores import StoreFileRecord, bump_revision, members

chunks = knowledge_chunks.c


@dataclass(frozen=True, slots=True)
class ChunkRow:
    file_id: str
    position: int
    tokens: int
    key_id: str  # the encryption key of `content_blob`
    content_blob: bytes  # the chunk's text and terms, encrypted
    embedding: bytes  # little-endian float32


def claim_files(
    connection: Connection, now: datetime, until: datetime, limit: int, after_org: str = ""
) -> list[StoreFileRecord]:
    """Up to `limit` files waiting for ingestion whose lease is free or ran out, each now
    leased until `until` (a conditional UPDATE, so two replicas never claim one file).

    Orgs take turns: the files of the first org after `after_org` (the one served last,
    in org id order, wrapping round) come first, oldest first, so an org that adds ten
    thousand files delays another's next file by one file, not by all of them."""
    free = or_(members.lease_until.is_(None), members.lease_until < now)
    waiting = select(vector_store_files).where(members.status == "in_progress", free)
    turn = case((members.org_id > after_org, 0), else_=1)
    claimed = []
    order = (turn, members.org_id, members.created_at)
    for row in connection.execute(waiting.order_by(*order).limit(limit)):
        record = StoreFileRecord(**row._mapping)
        taken = connection.execute(
            update(vector_store_files)
            .where(_same(record), members.status == "in_progress", free)
            .values(lease_until=until)
        ).rowcount
        if taken:
            claimed.append(record)
    return claimed


def _same(record: StoreFileRecord):
    return and_(
        members.vector_store_id == record.vector_store_id, members.file_id == record.file_id
    )


def renew_lease(connection: Connection, record: StoreFileRecord, until: datetime) -> bool:
    """False when the file is no longer waiting (deleted, cancelled): stop working on it."""
    return (
        connection.execute(
            update(vector_store_files)
            .where(_same(record), members.status == "in_progress")
            .values(lease_until=until)
        ).rowcount
        > 0
    )


def finish_file(
    connection: Connection, record: StoreFileRecord, rows: Sequence[ChunkRow], usage_bytes: int
) -> bool:
    """The file's chunks written and the file completed, unless it left the queue while it
    was being worked on (then nothing is written and the answer is False)."""
    done = connection.execute(
        update(vector_store_files)
        .where(_same(record), members.status == "in_progress")
        .values(status="completed", usage_bytes=usage_bytes, lease_until=None, last_error=None)
    ).rowcount
    if not done:
        return False
    if rows:
        connection.execute(
            knowledge_chunks.insert(),
            [
                {
                    "vector_store_id": record.vector_store_id,
                    "file_id": row.file_id,
                    "position": row.position,
                    "tokens": row.tokens,
                    "key_id": row.key_id,
                    "content_blob": row.content_blob,
                    "embedding": row.embedding,
                }
                for row in rows
            ],
        )
    bump_revision(connection, record.vector_store_id)
    return True


def fail_file(connection: Connection, record: StoreFileRecord, code: str, message: str) -> None:
    connection.execute(
        update(vector_store_files)
        .where(_same(record), members.status == "in_progress")
        .values(status="failed", last_error={"code": code, "message": message}, lease_until=None)
    )


@dataclass(frozen=True, slots=True)
class StoredChunk:
    file_id: str
    key_id: str
    content_blob: bytes
    embedding: bytes
    filename: str = ""
    attributes: dict | None = None


def read_chunks(connection: Connection, store_id: str) -> list[StoredChunk]:
    """The store's chunks of completed files, in the order they were written, with each
    file's name and attributes."""
    query = (
        select(
            chunks.file_id,
            chunks.key_id,
            chunks.content_blob,
            chunks.embedding,
            files.c.filename,
            members.attributes,
        )
        .join(
            vector_store_files,
            and_(
                members.vector_store_id == chunks.vector_store_id,
                members.file_id == chunks.file_id,
            ),
        )
        .join(files, files.c.id == chunks.file_id)
        .where(chunks.vector_store_id == store_id, members.status == "completed")
        .order_by(chunks.id)
    )
    return [StoredChunk(*row) for row in connection.execute(query)]


def file_chunks(connection: Connection, store_id: str, file_id: str) -> list[StoredChunk]:
    """One file's chunks, in order (the file's parsed content)."""
    query = (
        select(chunks.file_id, chunks.key_id, chunks.content_blob, chunks.embedding)
        .where(chunks.vector_store_id == store_id, chunks.file_id == file_id)
        .order_by(chunks.position)
    )
    return [StoredChunk(*row) for row in connection.execute(query)]


def rekey_chunks(
    connection: Connection,
    active: str,
    reseal: Callable[[str, str, bytes], tuple[str, bytes]],
    batch: int = 1000,
) -> int:
    """Re-encrypt every chunk not under the `active` key with `reseal(store id, key id,
    blob) -> (key id, blob)`, a batch at a time; how many."""
    done = 0
    while True:
        stale = connection.execute(
            select(chunks.id, chunks.vector_store_id, chunks.key_id, chunks.content_blob)
            .where(chunks.key_id != active)
            .limit(batch)
        ).all()
        for row in stale:
            key_id, blob = reseal(row.vector_store_id, row.key_id, row.content_blob)
            connection.execute(
                update(knowledge_chunks)
                .where(chunks.id == row.id)
                .values(key_id=key_id, content_blob=blob)
            )
        done += len(stale)
        if len(stale) < batch:
            return done
