"""Encryption at rest: AES-GCM round trips bound to their row, the key file created on
first use, clear errors for bad key configuration, and key rotation over stored bodies."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import datetime

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from modelmint.privacy import bodies
from modelmint.privacy.crypto import Keyring, new_key_text
from modelmint.store.database import Database
from modelmint.store.tables import audit_log, request_bodies


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'crypto.db'}")
    database.migrate()
    yield database
    database.close()


def test_round_trip():
    keyring = Keyring({"k1": os.urandom(32)})
    text = '{"messages": "电话 13812345678, naïve"}'
    key_id, blob = keyring.encrypt(text, "req_1:request")
    assert key_id == "k1"
    assert text.encode() not in blob and b"13812345678" not in blob
    assert keyring.decrypt(key_id, blob, "req_1:request") == text
    # a fresh nonce every time: the same text never makes the same blob
    assert keyring.encrypt(text, "req_1:request")[1] != blob


def test_a_tampered_blob_does_not_decrypt():
    keyring = Keyring({"k1": os.urandom(32)})
    _, blob = keyring.encrypt("secret", "req_1:request")
    for index in (0, len(blob) // 2, len(blob) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidTag):
            keyring.decrypt("k1", bytes(tampered), "req_1:request")
    with pytest.raises(InvalidTag):
        keyring.decrypt("k1", blob[:-1], "req_1:request")


def test_a_blob_moved_to_another_row_does_not_decrypt():
    keyring = Keyring({"k1": os.urandom(32)})
    _, blob = keyring.encrypt("secret", "req_1:request")
    for context in ("req_2:request", "req_1:response", ""):
        with pytest.raises(InvalidTag):
            keyring.decrypt("k1", blob, context)


def test_a_wrong_or_unknown_key_does_not_decrypt():
    key_id, blob = Keyring({"k1": os.urandom(32)}).encrypt("secret", "req_1:request")
    with pytest.raises(InvalidTag):
        Keyring({"k1": os.urandom(32)}).decrypt(key_id, blob, "req_1:request")
    with pytest.raises(KeyError, match="'k1' is not configured"):
        Keyring({"k2": os.urandom(32)}).decrypt(key_id, blob, "req_1:request")


def test_load_creates_a_key_file_only_its_owner_may_read(tmp_path):
    data_dir = tmp_path / "data"
    first = Keyring.load(data_dir, None)
    path = data_dir / "encryption_keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())
    assert list(keys) == ["k1"] and len(base64.b64decode(keys["k1"])) == 32
    # loading again reads the same key, so what was written stays readable
    key_id, blob = first.encrypt("kept", "req_1:request")
    assert Keyring.load(data_dir, None).decrypt(key_id, blob, "req_1:request") == "kept"
    assert json.loads(path.read_text()) == keys


def test_configured_keys_win_over_the_file(tmp_path):
    configured = json.dumps({"old": new_key_text(), "new": new_key_text()})
    keyring = Keyring.load(tmp_path, configured)
    assert keyring.active == "new"  # the last one encrypts
    assert not (tmp_path / "encryption_keys.json").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "must be JSON like"),
        ("[1, 2]", "must be JSON like"),
        ('"k1"', "must be JSON like"),
        ("{}", "no encryption keys"),
        ('{"k1": "not base64!"}', "must be JSON like"),
        ('{"k1": 32}', "must be JSON like"),
        (json.dumps({"k1": b64(os.urandom(16))}), "'k1' must be 32 bytes"),
        (json.dumps({"k1": new_key_text(), "k2": b64(os.urandom(33))}), "'k2' must be 32 bytes"),
    ],
)
def test_bad_keys_raise_a_clear_value_error(text, says):
    with pytest.raises(ValueError, match=says):
        Keyring.from_json(text)


def test_a_damaged_key_file_raises_a_clear_value_error(tmp_path):
    (tmp_path / "encryption_keys.json").write_text('{"k1": "' + b64(os.urandom(8)) + '"}')
    with pytest.raises(ValueError, match="must be 32 bytes"):
        Keyring.load(tmp_path, None)
    (tmp_path / "encryption_keys.json").write_text("garbage")
    with pytest.raises(ValueError, match="must be JSON like"):
        Keyring.load(tmp_path, None)


def _store(db: Database, keyring: Keyring, count: int) -> list[str]:
    ids = [f"req_{i:04d}" for i in range(count)]
    for request_id in ids:
        db.run(
            bodies.store_body,
            keyring,
            request_id,
            "org_a",
            datetime(2026, 11, 1),
            f"request of {request_id}",
            f"response of {request_id}",
        )
    return ids


def _key_ids(db: Database) -> set[str]:
    return db.run(lambda c: set(c.execute(select(request_bodies.c.key_id)).scalars()))


def test_rotation_re_encrypts_to_the_new_key_and_the_old_one_can_go(db):
    k1, k2 = os.urandom(32), os.urandom(32)
    old = Keyring({"k1": k1})
    ids = _store(db, old, 3)
    assert _key_ids(db) == {"k1"}
    with pytest.raises(KeyError):
        db.run(bodies.read_body, Keyring({"k2": k2}), ids[0])

    both = Keyring({"k1": k1, "k2": k2})
    assert both.active == "k2"
    assert db.run(bodies.rotate_keys, both, "tester") == 3
    assert _key_ids(db) == {"k2"}
    assert db.run(bodies.rotate_keys, both, "tester") == 0  # nothing left under k1

    only_new = Keyring({"k2": k2})
    for request_id in ids:
        assert db.run(bodies.read_body, only_new, request_id) == (
            f"request of {request_id}",
            f"response of {request_id}",
        )
    with pytest.raises(KeyError):
        db.run(bodies.read_body, old, ids[0])
    audits = db.run(lambda c: list(c.execute(select(audit_log).order_by(audit_log.c.id))))
    assert [(a.actor, a.action, a.target, a.detail) for a in audits] == [
        ("tester", "bodies.rotate", "k2", {"reencrypted": 3}),
        ("tester", "bodies.rotate", "k2", {"reencrypted": 0}),
    ]


def test_rotation_keeps_each_blob_bound_to_its_row(db):
    k1, k2 = os.urandom(32), os.urandom(32)
    first, second = _store(db, Keyring({"k1": k1}), 2)
    keyring = Keyring({"k1": k1, "k2": k2})
    db.run(bodies.rotate_keys, keyring, "tester")
    rows = db.run(lambda c: {r.request_id: r for r in c.execute(select(request_bodies))})
    with pytest.raises(InvalidTag):
        keyring.decrypt("k2", rows[first].request_blob, second + ":request")
    with pytest.raises(InvalidTag):
        keyring.decrypt("k2", rows[first].request_blob, first + ":response")
