"""Shared fixtures: fake-engine apps for fast tests, a real-model server for end-to-end tests."""

from __future__ import annotations

import os

import httpx
import pytest

from modelmint.api import create_app
from modelmint.core.settings import Settings
from modelmint.store.database import Database
from tests.business_helpers import BACKENDS, database_url
from tests.helpers import fake_pool, running_server


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, threads=2, max_body_bytes=1024 * 1024, auth=False)


@pytest.fixture
async def fake_app(settings):
    app = create_app(settings, pool=fake_pool())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(fake_app):
    transport = httpx.ASGITransport(app=fake_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


@pytest.fixture(scope="session")
def fake_server_url(tmp_path_factory) -> str:
    """A real HTTP server (uvicorn) in front of the fake engine, for the openai client."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("fake"), threads=2, auth=False)
    with running_server(create_app(settings, pool=fake_pool(token_delay=0.002))) as url:
        yield url


@pytest.fixture(scope="session")
def real_server_url(tmp_path_factory) -> str:
    """A real HTTP server with the real default models (SmolLM2, MiniLM, Qwen2.5-Coder)."""
    threads = int(os.environ.get("MODELMINT_TEST_THREADS", "2"))
    settings = Settings(data_dir=tmp_path_factory.mktemp("real"), threads=threads, auth=False)
    with running_server(create_app(settings)) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    """A fresh, migrated database of each backend (PostgreSQL when its URL is set)."""
    database = Database(database_url(request.param, tmp_path))
    database.migrate()
    yield database
    database.close()
