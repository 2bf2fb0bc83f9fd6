"""The database: engines for SQLite (a WAL file by default) or PostgreSQL, migrations, and
the threads that keep SQL off the event loop.

Reads run on a small thread pool. Writes go through one writer thread per process that
commits whatever has queued up in a single transaction (group commit): under load many
requests share one commit, and each still waits for its own to be durable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from modelmint.store.writer import GroupCommitWriter

logger = logging.getLogger(__name__)

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATE_LOCK = 0x6D6D_6D69_6772_6174  # "mmmigrat": a PostgreSQL advisory lock key


class Database:
    def __init__(self, url: str, readers: int = 4) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.engine = self._make_engine(url, immediate=True)
        # SQLite readers must not take the write lock that BEGIN IMMEDIATE takes
        self.read_engine = (
            self._make_engine(url, immediate=False) if self.is_sqlite else self.engine
        )
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sql-read")
        self._writer = GroupCommitWriter(self.engine)

    def _make_engine(self, url: str, immediate: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=NullPool if path in (None, "", ":memory:") else None,
        )
        _sqlite_pragmas(engine, immediate)
        return engine

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            # replicas starting together: one migrates, the others wait here and then find
            # nothing to do (on SQLite, BEGIN IMMEDIATE has taken the write lock already)
            if not self.is_sqlite:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` in one transaction, here and now (CLI, tests)."""
        with self.engine.begin() as connection:
            return fn(connection, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` on a reader thread."""

        def job() -> T:
            with self.read_engine.connect() as connection:
                return fn(connection, *args)

        return await asyncio.get_running_loop().run_in_executor(self._readers, job)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` on the writer thread; returns once it is committed."""
        return await self._writer.submit(fn, *args)

    def write_later(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Queue a write and do not wait (used when the caller is being cancelled);
        `on_error` runs on the writer thread if the write fails."""
        self._writer.submit_nowait(fn, *args, on_error=on_error)

    def close(self) -> None:
        self._writer.close()
        self._readers.shutdown(wait=True)
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _sqlite_pragmas(engine: Engine, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (the WAL is in the OS); FULL also a power cut
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def ping(connection: Connection) -> bool:
    return connection.execute(text("SELECT 1")).scalar() == 1
