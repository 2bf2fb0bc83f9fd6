"""SQL helpers: insert-if-absent (built once per table and dialect), lookup by id or name."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, Table, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


@lru_cache(maxsize=64)
def _insert_ignore(table: Table, dialect_name: str) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    # RETURNING, not rowcount: psycopg reports -1 rows for this statement
    return dialect.insert(table).on_conflict_do_nothing().returning(key)


def insert_ignore(connection: Connection, table: Table, **values: Any) -> bool:
    """Insert a row unless its key exists; True when inserted."""
    statement = _insert_ignore(table, connection.dialect.name)
    return connection.execute(statement, values).first() is not None


def by_id_or_name(connection: Connection, table: Table, id_or_name: str) -> Row | None:
    """The row whose `id` or `name` is the given value (ids and names never collide)."""
    where = or_(table.c.id == id_or_name, table.c.name == id_or_name)
    return connection.execute(select(table).where(where)).first()
