"""Helpers for the business-layer tests: an authenticated app with an admin client, the
optional PostgreSQL and Redis from CI, and small readers of the ledger and counters."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, create_engine, select, text

from modelmint.api import create_app
from modelmint.core.settings import Settings
from modelmint.runtime.pool import ModelPool
from modelmint.services import admin
from modelmint.services.platform import Platform
from modelmint.store.tables import metadata, usage_counters, usage_ledger
from modelmint.tenancy import revisions
from tests.helpers import fake_pool

POSTGRES_URL = os.environ.get("MODELMINT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("MODELMINT_TEST_REDIS_URL")
SECRET = "test-secret-" + "s" * 40

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="MODELMINT_TEST_POSTGRES_URL is unset: no PostgreSQL to test on"
)
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="MODELMINT_TEST_REDIS_URL is unset: no Redis to test on"
)
# parametrize a test over both databases: pytest.mark.parametrize("backend", BACKENDS)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=needs_postgres)]


def reset_postgres(url: str) -> None:
    """Drop every modelmint table (and Alembic's), so a test starts from an empty database."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh, empty database of the kind asked for."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'business.db'}"
    assert POSTGRES_URL, "the postgresql backend is skipped without its URL"
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


def first_admin_key(settings: Settings) -> str:
    """The first admin key, made on the database before a server opens it."""
    from modelmint.store.database import Database
    from modelmint.tenancy.secret import load_secret

    db = Database(settings.resolved_database_url())
    try:
        db.migrate()
        return db.run(admin.init_admin, load_secret(settings.data_dir, SECRET), True)["key"]
    finally:
        db.close()


def business_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path, "threads": 2, "secret_key": SECRET}
    values.update(overrides)
    return Settings(**values)


@dataclass
class Business:
    """A running app, its platform, and an admin client that raises on errors."""

    app: Any
    platform: Platform
    admin_key: str
    http: httpx.AsyncClient

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers=headers, timeout=60, **kwargs
        )

    async def post(self, path: str, body: dict) -> dict:
        response = await self.http.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def plan(self, name: str, **fields: Any) -> dict:
        body = {"name": name, "prices": {"*": {"input": "0.10", "output": "0.20"}}, **fields}
        return await self.post("/admin/plans", body)

    async def org(self, name: str, **fields: Any) -> dict:
        return await self.post("/admin/orgs", {"name": name, **fields})

    async def key(self, org: str, **fields: Any) -> dict:
        return await self.post("/admin/keys", {"org": org, **fields})

    async def caught_up(self) -> None:
        """Wait until this replica has seen the latest tenancy change (prices included)."""
        await caught_up(self.platform)


async def caught_up(platform: Platform, timeout: float = 5.0) -> None:
    latest = await platform.infra.db.read(revisions.current)
    deadline = time.monotonic() + timeout
    assert platform.infra.directory is not None
    while platform.infra.directory.revision < latest:
        assert time.monotonic() < deadline, "the directory did not see the latest revision"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(settings: Settings, pool: ModelPool | None = None) -> AsyncIterator[Business]:
    """An authenticated app (lifespan started) with an admin key and an admin client."""
    app = create_app(settings, pool=pool or fake_pool())
    async with app.router.lifespan_context(app):
        platform = app.state.modelmint.platform
        made = await platform.infra.db.write(admin.init_admin, platform.infra.secret, True)
        business = Business(app, platform, made["key"], None)  # type: ignore[arg-type]
        async with business.client(made["key"]) as http:
            business.http = http
            yield business


def chat(words: int | str, max_tokens: int | None = None, **fields: Any) -> dict:
    content = words if isinstance(words, str) else " ".join(["word"] * words)
    body: dict[str, Any] = {"model": "default", "messages": [{"role": "user", "content": content}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return {**body, **fields}


def ledger_rows(connection: Connection, org_id: str | None = None) -> list:
    query = select(usage_ledger)
    if org_id is not None:
        query = query.where(usage_ledger.c.org_id == org_id)
    return list(connection.execute(query))


def counter(connection: Connection, scope_id: str) -> Any:
    return connection.execute(
        select(usage_counters).where(usage_counters.c.scope_id == scope_id)
    ).first()


async def until(condition, timeout: float = 5.0, every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(every)
