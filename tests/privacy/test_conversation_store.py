"""Conversations and stored responses at rest: encrypted (no plaintext in the database),
bound to their row, purged past each org's retention, erased for one org only."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from modelmint.knowledge.preparation import seal, unseal
from modelmint.privacy import conversation_store as rows
from modelmint.privacy.conversation_store import ConversationRecord
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.policy import PrivacyPolicy, set_policy
from modelmint.services.admin import rotate_keys
from modelmint.store.database import Database
from modelmint.store.knowledge_chunks import ChunkRow, file_chunks, finish_file
from modelmint.store.tables import conversation_items, stored_responses, vector_store_files
from modelmint.store.vector_stores import StoreFileRecord
from modelmint.tenancy.orgs import create_org

NOW = datetime(2026, 12, 6, 12, 0, 0)
SECRET = "my card is 4111 1111 1111 1111"


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'talks.db'}")
    database.migrate()
    yield database
    database.close()


K1 = os.urandom(32)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({"k1": K1})


def _talk(db: Database, keyring: Keyring, org: str, retention: int, age: timedelta) -> str:
    org_id = db.run(lambda c: create_org(c, org).id)
    db.run(set_policy, org_id, PrivacyPolicy(retention_days=retention))
    record = ConversationRecord(f"conv_{org}", org_id, NOW - age, None)
    db.run(rows.add_conversation, record)
    db.run(rows.add_items, keyring, record, [(f"msg_{org}", f'{{"text": "{SECRET}"}}')])
    db.run(rows.store_response, keyring, org_id, f"resp_{org}", f'{{"x": "{SECRET}"}}')
    for table in (conversation_items, stored_responses):
        db.run(lambda c, t=table: c.execute(
            update(t).where(t.c.org_id == org_id).values(created_at=NOW - age)))  # fmt: skip
    return org_id


def _count(db: Database, table) -> int:
    return db.run(lambda c: len(c.execute(select(table)).all()))


def test_nothing_is_stored_in_plaintext_and_blobs_are_bound(db, keyring):
    org_id = _talk(db, keyring, "acme", 30, timedelta(days=1))
    blobs = db.run(lambda c: c.execute(select(conversation_items.c.item_blob)).scalars().all())
    assert blobs and all(SECRET.encode() not in blob for blob in blobs)
    items = db.run(rows.read_items, keyring, "conv_acme")
    assert items[0].item == {"text": SECRET}
    assert db.run(rows.read_response, keyring, org_id, "resp_acme") == {"x": SECRET}
    # a blob moved to another row does not open
    db.run(lambda c: c.execute(update(conversation_items).values(id="msg_other")))
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        db.run(rows.read_items, keyring, "conv_acme")


def test_purge_follows_each_orgs_retention(db, keyring):
    _talk(db, keyring, "old", 7, timedelta(days=10))
    _talk(db, keyring, "young", 30, timedelta(days=10))
    removed = db.run(rows.purge_conversations, "test", NOW)
    assert removed == 2  # old's item and old's response
    assert db.run(rows.read_items, keyring, "conv_old") == []
    assert len(db.run(rows.read_items, keyring, "conv_young")) == 1


def test_erase_takes_one_orgs_conversations_only(db, keyring):
    acme = _talk(db, keyring, "acme", 30, timedelta(days=1))
    _talk(db, keyring, "globex", 30, timedelta(days=1))
    assert db.run(rows.erase_conversations, acme, "test") == 3
    assert db.run(rows.find_conversation, acme, "conv_acme") is None
    assert _count(db, conversation_items) == 1 and _count(db, stored_responses) == 1


def test_rotation_reencrypts_items_responses_and_chunks(db, keyring):
    org_id = _talk(db, keyring, "acme", 30, timedelta(days=1))
    member = StoreFileRecord("vs_1", "file-1", org_id, None, "in_progress", None, {}, None, 0, NOW)
    db.run(lambda c: c.execute(vector_store_files.insert().values(**asdict(member))))
    key_id, blob = seal(keyring, "vs_1", "退货政策", ["退货", "政策"])
    db.run(finish_file, member, [ChunkRow("file-1", 0, 4, key_id, blob, b"\0" * 8)], 10)
    k2 = os.urandom(32)
    both = Keyring({"k1": K1, "k2": k2})
    result = db.run(rotate_keys, both, "test")
    assert (result["active_key"], result["conversation_rows"], result["chunks"]) == ("k2", 2, 1)
    assert db.run(rotate_keys, both, "test")["chunks"] == 0  # nothing left under k1
    only_new = Keyring({"k2": k2})
    assert db.run(rows.read_items, only_new, "conv_acme")[0].item == {"text": SECRET}
    chunk = db.run(file_chunks, "vs_1", "file-1")[0]
    assert unseal(only_new, "vs_1", chunk.key_id, chunk.content_blob) == (
        "退货政策",
        ("退货", "政策"),
    )
