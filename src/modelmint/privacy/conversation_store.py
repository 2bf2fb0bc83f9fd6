"""Conversations and their items at rest: each item is JSON (already redacted as the
org's policy asks) encrypted with the active key and bound to its item id; an org's
conversations are found only with its org id; items and stored responses past the org's
retention are purged, and all of them erased with the org's data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from modelmint.core.ids import utcnow
from modelmint.privacy.crypto import Keyring
from modelmint.privacy.expiry import delete_past_retention
from modelmint.store.audit import record
from modelmint.store.tables import (
    conversation_items,
    conversations,
    stored_responses,
)

talks = conversations.c
items = conversation_items.c
answers = stored_responses.c


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    org_id: str
    created_at: datetime
    metadata: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class StoredItem:
    seq: int
    id: str
    created_at: datetime
    item: dict[str, Any]


def add_conversation(connection: Connection, conversation: ConversationRecord) -> None:
    connection.execute(
        conversations.insert().values(
            id=conversation.id,
            org_id=conversation.org_id,
            created_at=conversation.created_at,
            metadata=conversation.metadata,
        )
    )


def find_conversation(
    connection: Connection, org_id: str, conversation_id: str
) -> ConversationRecord | None:
    row = connection.execute(
        select(conversations).where(talks.id == conversation_id, talks.org_id == org_id)
    ).one_or_none()
    return None if row is None else ConversationRecord(**row._mapping)


def set_metadata(connection: Connection, conversation_id: str, metadata: dict | None) -> None:
    connection.execute(
        update(conversations).where(talks.id == conversation_id).values(metadata=metadata)
    )


def delete_conversation(connection: Connection, org_id: str, conversation_id: str) -> bool:
    found = connection.execute(
        delete(conversations).where(talks.id == conversation_id, talks.org_id == org_id)
    ).rowcount
    if found:
        connection.execute(
            delete(conversation_items).where(items.conversation_id == conversation_id)
        )
    return found > 0


def add_items(
    connection: Connection,
    keyring: Keyring,
    conversation: ConversationRecord,
    stored: list[tuple[str, str]],
) -> None:
    """`stored`: (item id, the item's JSON as it may be kept), appended in order."""
    now = utcnow()
    for item_id, text in stored:
        key_id, blob = keyring.encrypt(text, item_id)
        connection.execute(
            conversation_items.insert().values(
                id=item_id,
                conversation_id=conversation.id,
                org_id=conversation.org_id,
                created_at=now,
                key_id=key_id,
                item_blob=blob,
            )
        )


def read_items(
    connection: Connection,
    keyring: Keyring,
    conversation_id: str,
    *,
    after_seq: int | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[StoredItem]:
    query = select(conversation_items).where(items.conversation_id == conversation_id)
    if after_seq is not None:
        query = query.where(items.seq < after_seq if newest_first else items.seq > after_seq)
    query = query.order_by(items.seq.desc() if newest_first else items.seq)
    if limit is not None:
        query = query.limit(limit)
    return [
        StoredItem(
            row.seq,
            row.id,
            row.created_at,
            json.loads(keyring.decrypt(row.key_id, row.item_blob, row.id)),
        )
        for row in connection.execute(query)
    ]


def find_item(
    connection: Connection, keyring: Keyring, conversation_id: str, item_id: str
) -> StoredItem | None:
    row = connection.execute(
        select(conversation_items).where(
            items.conversation_id == conversation_id, items.id == item_id
        )
    ).one_or_none()
    if row is None:
        return None
    item = json.loads(keyring.decrypt(row.key_id, row.item_blob, row.id))
    return StoredItem(row.seq, row.id, row.created_at, item)


def delete_item(connection: Connection, conversation_id: str, item_id: str) -> bool:
    return (
        connection.execute(
            delete(conversation_items).where(
                items.conversation_id == conversation_id, items.id == item_id
            )
        ).rowcount
        > 0
    )


def store_response(
    connection: Connection, keyring: Keyring, org_id: str, response_id: str, text: str
) -> None:
    key_id, blob = keyring.encrypt(text, response_id)
    connection.execute(
        stored_responses.insert().values(
            id=response_id, org_id=org_id, created_at=utcnow(), key_id=key_id, response_blob=blob
        )
    )


def read_response(
    connection: Connection, keyring: Keyring, org_id: str, response_id: str
) -> dict[str, Any] | None:
    row = connection.execute(
        select(stored_responses).where(answers.id == response_id, answers.org_id == org_id)
    ).one_or_none()
    if row is None:
        return None
    return json.loads(keyring.decrypt(row.key_id, row.response_blob, row.id))


def delete_response(connection: Connection, org_id: str, response_id: str) -> bool:
    return (
        connection.execute(
            delete(stored_responses).where(answers.id == response_id, answers.org_id == org_id)
        ).rowcount
        > 0
    )


def purge_conversations(connection: Connection, actor: str, now: datetime | None = None) -> int:
    """Items and stored responses older than their org's retention; how many went."""
    tables = [conversation_items, stored_responses]
    removed = delete_past_retention(connection, tables, now or utcnow())
    if removed:
        record(connection, actor, "conversations.purge", "*", {"removed": removed})
    return removed


def erase_conversations(connection: Connection, org_id: str, actor: str) -> int:
    """Every conversation, item and stored response of the org; how many rows went."""
    removed = connection.execute(delete(conversation_items).where(items.org_id == org_id)).rowcount
    removed += connection.execute(delete(conversations).where(talks.org_id == org_id)).rowcount
    removed += connection.execute(delete(stored_responses).where(answers.org_id == org_id)).rowcount
    record(connection, actor, "conversations.erase", org_id, {"removed": removed})
    return removed


def rotate_conversations(connection: Connection, keyring: Keyring) -> int:
    """Re-encrypt every conversation item and stored response not under the active key;
    how many."""
    done = 0
    for table, blob, key in (
        (conversation_items, "item_blob", items.id),
        (stored_responses, "response_blob", answers.id),
    ):
        stale = connection.execute(select(table).where(table.c.key_id != keyring.active)).all()
        for row in stale:
            text = keyring.decrypt(row.key_id, getattr(row, blob), row.id)
            key_id, sealed = keyring.encrypt(text, row.id)
            connection.execute(
                update(table).where(key == row.id).values({"key_id": key_id, blob: sealed})
            )
        done += len(stale)
    return done
