"""Stored bodies: purging past each org's retention and erasing one org's bodies, both
audited, neither touching what it should not."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from modelmint.privacy import bodies
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.policy import PrivacyPolicy, set_policy
from modelmint.store.database import Database
from modelmint.store.tables import audit_log, request_bodies
from modelmint.tenancy.orgs import create_org

NOW = datetime(2026, 11, 23, 12, 0, 0)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'bodies.db'}")
    database.migrate()
    yield database
    database.close()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({"k1": os.urandom(32)})


def _org(db: Database, name: str, retention_days: int | None) -> str:
    org_id = db.run(lambda c: create_org(c, name).id)
    if retention_days is not None:
        policy = PrivacyPolicy(store_bodies=True, retention_days=retention_days)
        db.run(set_policy, org_id, policy)
    return org_id


def _body(db: Database, keyring: Keyring, request_id: str, org_id: str, age: timedelta):
    db.run(bodies.store_body, keyring, request_id, org_id, NOW - age, "req", "resp")


def _ids(db: Database) -> set[str]:
    return db.run(lambda c: set(c.execute(select(request_bodies.c.request_id)).scalars()))


def _audits(db: Database) -> list[tuple]:
    rows = db.run(lambda c: list(c.execute(select(audit_log).order_by(audit_log.c.id))))
    return [(r.actor, r.action, r.target, r.detail) for r in rows]


def test_purge_deletes_only_bodies_past_their_orgs_retention(db, keyring):
    week = _org(db, "week", 7)
    default = _org(db, "default", None)  # no policy row: the default 30 days
    year = _org(db, "year", 365)
    hour = timedelta(hours=1)
    _body(db, keyring, "req_week_old", week, timedelta(days=7) + hour)
    _body(db, keyring, "req_week_new", week, timedelta(days=7) - hour)
    _body(db, keyring, "req_default_old", default, timedelta(days=30) + hour)
    _body(db, keyring, "req_default_new", default, timedelta(days=30) - hour)
    _body(db, keyring, "req_year", year, timedelta(days=200))
    _body(db, keyring, "req_unknown_org", "org_gone", timedelta(days=31))

    assert db.run(bodies.purge_expired, "tester", NOW) == 3
    assert _ids(db) == {"req_week_new", "req_default_new", "req_year"}
    assert _audits(db) == [("tester", "bodies.purge", "*", {"removed": 3})]
    # the survivors are still readable
    assert db.run(bodies.read_body, keyring, "req_week_new") == ("req", "resp")

    assert db.run(bodies.purge_expired, "tester", NOW) == 0
    assert len(_audits(db)) == 1  # nothing removed, nothing to audit
    assert db.run(bodies.purge_expired, "later", NOW + timedelta(days=366)) == 3
    assert _ids(db) == set()
    assert _audits(db)[-1] == ("later", "bodies.purge", "*", {"removed": 3})


def test_erase_deletes_every_body_of_one_org_only(db, keyring):
    acme = _org(db, "acme", 3650)
    other = _org(db, "other", None)
    for i in range(3):
        _body(db, keyring, f"req_acme_{i}", acme, timedelta(days=i))
    _body(db, keyring, "req_other", other, timedelta(0))

    assert db.run(bodies.count_bodies, acme) == 3
    assert db.run(bodies.erase_org, acme, "key_admin") == 3
    assert _ids(db) == {"req_other"}
    assert db.run(bodies.count_bodies, acme) == 0
    assert db.run(bodies.count_bodies, other) == db.run(bodies.count_bodies) == 1
    assert _audits(db) == [("key_admin", "bodies.erase", acme, {"removed": 3})]
    # erasing an org with nothing stored is still recorded
    assert db.run(bodies.erase_org, acme, "key_admin") == 0
    assert _audits(db)[-1] == ("key_admin", "bodies.erase", acme, {"removed": 0})


def test_reading_a_missing_body_raises_lookup_error(db, keyring):
    with pytest.raises(LookupError, match="req_nothing"):
        db.run(bodies.read_body, keyring, "req_nothing")
