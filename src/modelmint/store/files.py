"""Rows of uploaded files: add, find (within one org), list a page, delete."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, or_, select

from modelmint.store.tables import files
from modelmint.store.vector_stores import detach_file

columns = files.c


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    org_id: str
    filename: str
    purpose: str
    bytes: int
    sha256: str
    key_id: str
    created_at: datetime
    expires_at: datetime | None


def add_file(connection: Connection, record: FileRecord) -> None:
    connection.execute(files.insert().values(**asdict(record)))


def find_file(connection: Connection, org_id: str, file_id: str) -> FileRecord | None:
    """The org's file `file_id`; None when it is another org's or does not exist."""
    row = connection.execute(
        select(files).where(columns.id == file_id, columns.org_id == org_id)
    ).one_or_none()
    return None if row is None else FileRecord(**row._mapping)


@dataclass(frozen=True, slots=True)
class FileQuery:
    """A page of an org's files: by purpose (all when None), after the file `after`."""

    org_id: str
    purpose: str | None
    after: FileRecord | None
    limit: int
    newest_first: bool = True


def list_files(connection: Connection, page: FileQuery) -> list[FileRecord]:
    """Up to `page.limit` files in creation order (ties by id), after `page.after`."""
    query = select(files).where(columns.org_id == page.org_id)
    if page.purpose is not None:
        query = query.where(columns.purpose == page.purpose)
    if page.after is not None:
        query = query.where(_beyond(page.after, page.newest_first))
    order = (columns.created_at, columns.id)
    descending = [c.desc() for c in order]
    query = query.order_by(*(descending if page.newest_first else order)).limit(page.limit)
    return [FileRecord(**row._mapping) for row in connection.execute(query)]


def _beyond(after: FileRecord, newest_first: bool):
    if newest_first:
        return or_(
            columns.created_at < after.created_at,
            and_(columns.created_at == after.created_at, columns.id < after.id),
        )
    return or_(
        columns.created_at > after.created_at,
        and_(columns.created_at == after.created_at, columns.id > after.id),
    )


def org_bytes(connection: Connection, org_id: str) -> int:
    """What the org's files hold together."""
    query = select(func.coalesce(func.sum(columns.bytes), 0)).where(columns.org_id == org_id)
    return int(connection.execute(query).scalar_one())


def delete_file(connection: Connection, org_id: str, file_id: str) -> bool:
    """The file's row, and the file in every vector store that holds it."""
    result = connection.execute(
        delete(files).where(columns.id == file_id, columns.org_id == org_id)
    )
    if result.rowcount:
        detach_file(connection, org_id, file_id)
    return result.rowcount > 0


def expired_files(connection: Connection, now: datetime, limit: int = 500) -> list[FileRecord]:
    """Files whose `expires_at` has passed, oldest first."""
    query = (
        select(files)
        .where(columns.expires_at.is_not(None), columns.expires_at <= now)
        .order_by(columns.expires_at)
        .limit(limit)
    )
    return [FileRecord(**row._mapping) for row in connection.execute(query)]
