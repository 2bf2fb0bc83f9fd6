"""The directory: key -> account (org, key, plan), cached, and dropped from the cache as soon
as the tenancy revision moves, so revocations reach a replica within its poll."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest

from modelmint.core.errors import AuthenticationError
from modelmint.core.ids import utcnow
from modelmint.services.chores import Chores
from modelmint.store.database import Database
from modelmint.tenancy import keys, orgs, plans
from modelmint.tenancy.directory import Directory

SECRET = b"d" * 32


@pytest.fixture
async def world(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'dir.db'}")
    db.migrate()
    db.run(lambda c: orgs.create_org(c, "acme", org_id="org_acme", spend_limit_nanos=5))
    plan = db.run(
        lambda c: plans.create_plan(
            c,
            "pro",
            monthly_price_nanos=0,
            included_tokens=0,
            rpm=10,
            tpm=1000,
            max_concurrent=2,
            prices={"*": (1, 2)},
            allowed_models=["fake-chat", "fake-embed"],
        )
    )
    db.run(plans.subscribe, "org_acme", plan.id, datetime(2000, 1, 1))
    directory = Directory(db, SECRET, poll_seconds=0.05)
    await directory.start()
    chores = Chores()  # as the platform runs it
    chores.add("tenancy-revisions", directory.poll_seconds, directory.refresh)
    chores.start()
    yield db, directory
    await chores.close()
    await directory.close()
    db.close()


def make_key(db, **options):
    return db.run(lambda c: keys.create_key(c, SECRET, "org_acme", "k", **options))


async def test_a_key_authenticates_to_its_org_plan_and_models(world):
    db, directory = world
    record, clear = make_key(db, scopes=["inference"], allowed_models=["fake-chat", "other"])
    account = await directory.authenticate(clear)
    assert account.org.id == "org_acme" and account.org.spend_limit_nanos == 5
    assert account.key == record and account.plan.name == "pro"
    assert account.principal.scopes == frozenset({"inference"})
    # the key's models, narrowed to what the plan allows
    assert account.principal.allowed_models == frozenset({"fake-chat"})


@pytest.mark.parametrize("token", ["nonsense", "mm-" + "x" * 43, "sk-" + "x" * 48])
async def test_unknown_keys_are_refused(world, token):
    _, directory = world
    with pytest.raises(AuthenticationError):
        await directory.authenticate(token)


async def test_a_key_made_with_another_secret_is_refused(world):
    db, directory = world
    _, clear = make_key(db)
    other = Directory(db, b"e" * 32)
    with pytest.raises(AuthenticationError):
        await other.authenticate(clear)
    assert (await directory.authenticate(clear)).org.id == "org_acme"


async def test_an_expired_key_is_refused_even_from_the_cache(world):
    db, directory = world
    _, clear = make_key(db, expires_at=utcnow() + timedelta(seconds=0.3))
    await directory.authenticate(clear)  # cached now
    await asyncio.sleep(0.35)
    with pytest.raises(AuthenticationError, match="expired"):
        await directory.authenticate(clear)


async def test_a_revocation_reaches_the_cache_within_the_poll(world):
    db, directory = world
    record, clear = make_key(db)
    await directory.authenticate(clear)
    db.run(keys.revoke_key, record.id)
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match="revoked"):
        while time.monotonic() - started < 1.0:
            await directory.authenticate(clear)
            await asyncio.sleep(0.01)


async def test_last_used_is_written_off_the_request_path(world):
    db, directory = world
    record, clear = make_key(db)
    await directory.authenticate(clear)
    assert db.run(keys.get_key, record.id).last_used_at is None
    await directory.close()  # flushes what it collected
    await db.write(lambda _c: None)
    assert db.run(keys.get_key, record.id).last_used_at is not None
