"""Stored request and response bodies: encrypted on write, purged past retention,
erased per organization on request, re-encrypted when keys rotate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from modelmint.core.ids import utcnow
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.expiry import delete_past_retention
from modelmint.store.audit import record
from modelmint.store.tables import request_bodies

bodies = request_bodies.c


def store_body(
    connection: Connection,
    keyring: Keyring,
    request_id: str,
    org_id: str,
    created_at: datetime,
    request_text: str,
    response_text: str,
) -> None:
    key_id, request_blob = keyring.encrypt(request_text, request_id + ":request")
    _, response_blob = keyring.encrypt(response_text, request_id + ":response")
    connection.execute(
        request_bodies.insert().values(
            request_id=request_id,
            org_id=org_id,
            created_at=created_at,
            key_id=key_id,
            request_blob=request_blob,
            response_blob=response_blob,
        )
    )


def read_body(connection: Connection, keyring: Keyring, request_id: str) -> tuple[str, str]:
    row = connection.execute(select(request_bodies).where(bodies.request_id == request_id)).first()
    if row is None:
        raise LookupError(f"no stored body for {request_id!r}")
    return (
        keyring.decrypt(row.key_id, row.request_blob, request_id + ":request"),
        keyring.decrypt(row.key_id, row.response_blob, request_id + ":response"),
    )


def purge_expired(connection: Connection, actor: str, now: datetime | None = None) -> int:
    """Delete bodies older than their org's retention (the default policy's without one)."""
    removed = delete_past_retention(connection, [request_bodies], now or utcnow())
    if removed:
        record(connection, actor, "bodies.purge", "*", {"removed": removed})
    return removed


def erase_org(connection: Connection, org_id: str, actor: str) -> int:
    removed = connection.execute(delete(request_bodies).where(bodies.org_id == org_id)).rowcount
    record(connection, actor, "bodies.erase", org_id, {"removed": removed})
    return removed


def count_bodies(connection: Connection, org_id: str | None = None) -> int:
    query = select(func.count()).select_from(request_bodies)
    if org_id is not None:
        query = query.where(bodies.org_id == org_id)
    return int(connection.execute(query).scalar() or 0)


def rotate_keys(connection: Connection, keyring: Keyring, actor: str) -> int:
    """Re-encrypt every body not under the active key; returns how many."""
    rows = connection.execute(select(request_bodies).where(bodies.key_id != keyring.active)).all()
    for row in rows:
        request_text = keyring.decrypt(row.key_id, row.request_blob, row.request_id + ":request")
        response_text = keyring.decrypt(row.key_id, row.response_blob, row.request_id + ":response")
        key_id, request_blob = keyring.encrypt(request_text, row.request_id + ":request")
        _, response_blob = keyring.encrypt(response_text, row.request_id + ":response")
        connection.execute(
            update(request_bodies)
            .where(bodies.request_id == row.request_id)
            .values(key_id=key_id, request_blob=request_blob, response_blob=response_blob)
        )
    record(connection, actor, "bodies.rotate", keyring.active, {"reencrypted": len(rows)})
    return len(rows)
