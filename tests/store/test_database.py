"""The store: the Alembic migration creates exactly the tables in `store.tables`, migrating
again changes nothing, and the group-commit writer commits concurrent writes together
without letting one failing job lose the others."""

from __future__ import annotations

import asyncio
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, func, inspect, select, text

from modelmint.store.database import MIGRATIONS, Database, ping
from modelmint.store.tables import metadata, revisions
from tests.business_helpers import database_url, needs_postgres


def _schema(connection) -> dict:
    inspector = inspect(connection)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted(i["name"] for i in inspector.get_indexes(name)),
        )
        for name in sorted(inspector.get_table_names())
    }


def test_migration_matches_the_tables(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            (head,)
        ]


def test_migrating_twice_changes_nothing(db):
    db.run(lambda c: c.execute(revisions.insert().values(name="kept", value=7)))
    with db.engine.connect() as connection:
        before = _schema(connection)
    db.migrate()
    with db.engine.connect() as connection:
        assert _schema(connection) == before
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert db.run(lambda c: c.execute(select(revisions.c.value)).scalar()) == 7
    assert db.run(ping)


def _insert(connection, name: str) -> str:
    connection.execute(revisions.insert().values(name=name, value=1))
    return name


def _count(connection) -> int:
    return connection.execute(select(func.count()).select_from(revisions)).scalar_one()


async def test_group_commit_shares_commits_between_concurrent_writes(db):
    commits = []
    event.listen(db.engine, "commit", lambda _conn: commits.append(1))
    names = [f"w{i}" for i in range(300)]
    results = await asyncio.gather(*(db.write(_insert, name) for name in names))
    assert results == names  # each caller gets its own job's result
    assert await db.read(_count) == 300
    assert len(commits) < 300, "concurrent writes should share commits"


async def test_one_failing_job_does_not_lose_the_others(db):
    gate = threading.Event()
    # hold the writer on a first job so that everything below lands in one batch
    blocker = asyncio.ensure_future(db.write(lambda _c: gate.wait(5)))
    await asyncio.sleep(0.05)
    good = [asyncio.ensure_future(db.write(_insert, f"ok{i}")) for i in range(10)]
    bad = asyncio.ensure_future(db.write(_insert, "ok3"))  # duplicate primary key
    more = [asyncio.ensure_future(db.write(_insert, f"ok{i}")) for i in range(10, 20)]
    gate.set()
    assert await blocker is True
    assert [await job for job in good + more] == [f"ok{i}" for i in range(20)]
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        await bad
    assert await db.read(_count) == 20


async def test_write_later_commits_without_a_waiter(db):
    db.write_later(_insert, "later")
    await db.write(lambda _c: None)  # queued after it, so committed after it
    assert await db.read(_count) == 1


async def test_a_failed_write_later_hands_its_error_to_its_fallback(db):
    failures: list[Exception] = []

    def broken(_connection) -> None:
        raise ValueError("no such table")

    db.write_later(broken, on_error=failures.append)
    db.write_later(_insert, "kept", on_error=failures.append)
    await db.write(lambda _c: None)  # queued after them, so done after them
    assert [str(f) for f in failures] == ["no such table"]
    assert await db.read(_count) == 1


def test_sqlite_file_runs_in_wal_mode(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")
    try:
        database.migrate()
        assert database.run(lambda c: c.exec_driver_sql("PRAGMA journal_mode").scalar()) == "wal"
    finally:
        database.close()


@needs_postgres
def test_replicas_migrating_together_on_postgresql_both_succeed(tmp_path):
    url = database_url("postgresql", tmp_path)
    databases = [Database(url) for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases))

    def migrate(database: Database) -> None:
        start.wait()
        try:
            database.migrate()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(d,)) for d in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        with databases[0].engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    finally:
        for database in databases:
            database.close()
