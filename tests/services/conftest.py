"""The services on their own: a started `Platform` on a SQLite file, the fake engine's
pool, and orgs made through the admin use cases; no HTTP anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from modelmint.core.settings import Settings
from modelmint.runtime.pool import ModelPool
from modelmint.services import admin
from modelmint.services.context import Endpoint, RequestContext
from modelmint.services.models import FineTunedOptions, Models
from modelmint.services.platform import Platform
from modelmint.store.tables import usage_counters, usage_ledger
from modelmint.tenancy.directory import Account
from tests.helpers import fake_pool

SECRET = "services-secret-" + "s" * 40
# per million tokens: 10,000 / 20,000 nanos; per million trained tokens: 3,000,000 nanos
PRICES = {"*": {"input": "0.01", "output": "0.02", "fine_tuning": "3.00"}}


@dataclass
class World:
    platform: Platform
    pool: ModelPool

    @property
    def models(self) -> Models:
        return Models(self.pool, self.db, FineTunedOptions())

    @property
    def db(self):
        return self.platform.infra.db

    async def account(
        self, plan: dict[str, Any] | None = None, privacy: dict[str, Any] | None = None, **org
    ) -> Account:
        """A fresh org on a plan of its own (its fields: `plan`), with a key; its account."""
        name = f"org{len(await self.db.read(admin.list_orgs))}"
        plan_body = admin.PlanCreate(name=f"{name}-plan", prices=PRICES, **(plan or {}))
        await self.db.write(admin.create_plan, plan_body, "test")
        await self.db.write(
            admin.create_org, admin.OrgCreate(name=name, plan=f"{name}-plan", **org), "test"
        )
        if privacy is not None:
            await self.db.write(admin.set_privacy, name, admin.PrivacyBody(**privacy), "test")
        key = admin.KeyCreate(org=name)
        made = await self.db.write(admin.create_key, self.platform.infra.secret, key, "test")
        return await self.platform.auth.authenticate(f"Bearer {made['key']}")

    def rows(self, request_id: str) -> list[Any]:
        query = select(usage_ledger).where(usage_ledger.c.request_id == request_id)
        return self.db.run(lambda c: c.execute(query).all())

    def counter(self, org_id: str) -> Any:
        query = select(usage_counters).where(usage_counters.c.scope_id == org_id)
        return self.db.run(lambda c: c.execute(query).one_or_none())

    async def drained(self) -> None:
        """Wait for the writes that requests left behind (cancelled settles, releases)."""
        await self.db.write(lambda _connection: None)


def context(account: Account, request_id: str, endpoint: Endpoint = Endpoint.CHAT):
    return RequestContext(account, request_id, endpoint, "fake-chat")


@pytest.fixture
async def world(tmp_path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, secret_key=SECRET, threads=1)
    platform = Platform.from_settings(settings)
    pool = fake_pool(token_delay=0.01)
    await platform.start()
    await pool.start()
    try:
        yield World(platform, pool)
    finally:
        await pool.close()
        await platform.close()
