"""Rows of file batches (files added to a vector store together): add one with its
files, find it, count its files by status, cancel what of it is still waiting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from modelmint.store.tables import vector_store_file_batches, vector_store_files
from modelmint.store.vector_stores import FileCounts, StoreFileRecord, add_store_file, members

batches = vector_store_file_batches.c


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    vector_store_id: str
    org_id: str
    file_ids: list[str]
    created_at: datetime
    cancelled: bool = False


def add_batch(connection: Connection, batch: BatchRecord, files: Sequence[StoreFileRecord]) -> None:
    """The batch and its files (a file already in the store keeps its row)."""
    connection.execute(vector_store_file_batches.insert().values(**asdict(batch)))
    for file in files:
        add_store_file(connection, file)


def find_batch(connection: Connection, store_id: str, batch_id: str) -> BatchRecord | None:
    row = connection.execute(
        select(vector_store_file_batches).where(
            batches.id == batch_id, batches.vector_store_id == store_id
        )
    ).one_or_none()
    return None if row is None else BatchRecord(**row._mapping)


def batch_counts(connection: Connection, batch: BatchRecord) -> FileCounts:
    query = (
        select(members.status, func.count())
        .where(
            members.vector_store_id == batch.vector_store_id, members.file_id.in_(batch.file_ids)
        )  # fmt: skip
        .group_by(members.status)
    )
    return FileCounts(**{status: int(count) for status, count in connection.execute(query)})


def cancel_batch(connection: Connection, batch: BatchRecord) -> None:
    """The batch is cancelled, and so are its files not yet ingested (ingestion notices
    at its next lease renewal and writes nothing)."""
    connection.execute(
        update(vector_store_file_batches).where(batches.id == batch.id).values(cancelled=True)
    )
    connection.execute(
        update(vector_store_files)
        .where(
            members.vector_store_id == batch.vector_store_id,
            members.file_id.in_(batch.file_ids),
            members.status == "in_progress",
        )
        .values(status="cancelled", lease_until=None)
    )
