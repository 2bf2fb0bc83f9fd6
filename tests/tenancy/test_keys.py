"""API keys: shown once, stored only as an HMAC digest, with scopes, expiry and revocation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from modelmint.store.database import Database
from modelmint.store.tables import api_keys
from modelmint.tenancy import keys, orgs, revisions
from modelmint.tenancy.secret import load_secret

SECRET = b"k" * 32


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'keys.db'}")
    database.migrate()
    database.run(lambda c: orgs.create_org(c, "acme", org_id="org_acme"))
    yield database
    database.close()


def test_a_new_key_looks_like_a_key():
    made = {keys.new_key() for _ in range(50)}
    assert len(made) == 50
    for key in made:
        assert key.startswith("mm-") and keys.looks_like_key(key)


@pytest.mark.parametrize(
    "token", ["", "mm-", "mm-short", "sk-" + "a" * 43, "mm-" + "a" * 80, "mm-" + "é" * 43]
)
def test_what_does_not_look_like_a_key(token):
    assert not keys.looks_like_key(token)


def test_the_digest_depends_on_the_secret():
    key = keys.new_key()
    digest = keys.key_digest(SECRET, key)
    assert len(digest) == 64 and key not in digest
    assert digest == keys.key_digest(SECRET, key)
    assert digest != keys.key_digest(b"x" * 32, key)


def test_create_stores_the_digest_never_the_key(db):
    record, clear = db.run(keys.create_key, SECRET, "org_acme", "ci", ["inference"])
    assert record.id.startswith("key_") and record.prefix == clear[:8]
    row = db.run(lambda c: c.execute(select(api_keys)).one())
    stored = " ".join(str(value) for value in row)
    assert clear not in stored and clear[8:] not in stored
    assert row.digest == keys.key_digest(SECRET, clear)
    assert "key" not in record.to_dict()  # the listing view has no clear key
    assert db.run(keys.find_by_digest, keys.key_digest(SECRET, clear)) == record
    assert db.run(keys.find_by_digest, keys.key_digest(b"other" * 8, clear)) is None


def test_scopes_are_checked():
    assert keys.check_scopes(["admin", "inference"]) == frozenset({"admin", "inference"})
    with pytest.raises(ValueError, match="unknown scopes"):
        keys.check_scopes(["inference", "root"])
    with pytest.raises(ValueError, match="at least one scope"):
        keys.check_scopes([])


def test_expiry_and_revocation_are_problems(db):
    now = datetime(2026, 11, 20)
    expires = now + timedelta(hours=1)
    record, _ = db.run(lambda c: keys.create_key(c, SECRET, "org_acme", "t", expires_at=expires))
    assert record.problem(now) is None
    assert "expired" in record.problem(now + timedelta(hours=1))
    revoked = db.run(keys.revoke_key, record.id)
    assert revoked.revoked_at is not None
    assert "revoked" in revoked.problem(revoked.revoked_at)


def test_revoking_twice_keeps_the_first_time_and_bumps_the_revision(db):
    record, _ = db.run(keys.create_key, SECRET, "org_acme", "ci")
    before = db.run(revisions.current)
    first = db.run(keys.revoke_key, record.id).revoked_at
    assert db.run(revisions.current) > before
    assert db.run(keys.revoke_key, record.id).revoked_at == first
    with pytest.raises(LookupError):
        db.run(keys.revoke_key, "key_missing")


def test_list_by_org_and_touch_last_used(db):
    db.run(lambda c: orgs.create_org(c, "other", org_id="org_other"))
    mine, _ = db.run(keys.create_key, SECRET, "org_acme", "a")
    db.run(keys.create_key, SECRET, "org_other", "b")
    assert [k.id for k in db.run(keys.list_keys, "org_acme")] == [mine.id]
    assert len(db.run(keys.list_keys)) == 2
    moment = datetime(2026, 11, 21, 8, 30)
    db.run(keys.touch_last_used, {mine.id: moment})
    assert db.run(keys.get_key, mine.id).last_used_at == moment


def test_the_secret_file_is_made_once_and_private(tmp_path):
    first = load_secret(tmp_path / "data", None)
    assert len(first) == 64
    assert load_secret(tmp_path / "data", None) == first
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o077 == 0
    assert load_secret(tmp_path, "c" * 32) == b"c" * 32
    with pytest.raises(ValueError, match="at least 32"):
        load_secret(tmp_path, "short")
