"""Conversations (OpenAI's `/v1/conversations`): an org's multi-turn threads and their
message items, kept encrypted and redacted as the org's privacy policy asks. Responses
and ask read a conversation's items as the turns before the new one, and append the new
turn. Another org's conversation is a 404, the same as one that does not exist.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from modelmint.core.errors import InvalidRequestError, NotFoundError
from modelmint.core.ids import unix_seconds, utcnow
from modelmint.privacy import conversation_store as rows
from modelmint.privacy.conversation_store import ConversationRecord, StoredItem
from modelmint.privacy.crypto import Keyring
from modelmint.services.knowledge_schemas import check_pairs
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.vector_stores import cursor_page
from modelmint.store.database import Database
from modelmint.tenancy.directory import Account

MAX_ITEMS_PER_REQUEST = 20  # OpenAI's limit on items added at once
MAX_LIST = 100
MAX_TEXT = 1_000_000
MAX_HISTORY = 200  # earlier items a new turn reads (a model's context holds fewer)
ROLES = ("user", "assistant", "system", "developer")


def conversation_object(record: ConversationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "conversation",
        "created_at": unix_seconds(record.created_at),
        "metadata": record.metadata or {},
    }


def message_item(role: str, text: str, annotations: list | None = None) -> dict[str, Any]:
    """A message item as OpenAI shows it: input_text for what was said to the model,
    output_text (with annotations) for what it answered."""
    if role == "assistant":
        part = {"type": "output_text", "text": text, "annotations": annotations or [],
                "logprobs": []}  # fmt: skip
    else:
        part = {"type": "input_text", "text": text}
    return {
        "type": "message",
        "id": "msg_" + secrets.token_hex(24),
        "status": "completed",
        "role": role,
        "content": [part],
    }


def normalized_items(given: Any, param: str) -> list[dict[str, Any]]:
    """Input items (OpenAI's message items, or `{"role", "content"}` with a string) as
    stored message items; anything else is a 400 that says what is accepted."""
    if isinstance(given, str):
        return [message_item("user", given)]
    if not isinstance(given, list):
        raise InvalidRequestError(f"{param} must be a string or a list of items.", param=param)
    found = []
    for index, item in enumerate(given):
        where = f"{param}[{index}]"
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            raise InvalidRequestError(
                f"{where}: only message items are supported here "
                '({"role": "user", "content": "..."}).',
                param=where,
            )
        role = item.get("role")
        if role not in ROLES:
            raise InvalidRequestError(f"{where}.role must be one of {', '.join(ROLES)}.",
                                      param=where)  # fmt: skip
        found.append(message_item(role, _text_of(item.get("content"), where)))
    return found


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        text = content
    elif isinstance(content, list) and all(
        isinstance(p, dict)
        and p.get("type") in ("input_text", "output_text", "text")
        and isinstance(p.get("text"), str)
        for p in content
    ):
        text = "".join(p["text"] for p in content)
    else:
        raise InvalidRequestError(
            f"{where}.content must be a string or a list of input_text parts "
            '({"type": "input_text", "text": "..."}).',
            param=where,
        )
    if len(text) > MAX_TEXT:
        raise InvalidRequestError(f"{where} is longer than {MAX_TEXT:,} characters.", param=where)
    return text


def item_text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []))


class Conversations:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    async def create(self, account: Account, body: dict[str, Any]) -> dict[str, Any]:
        metadata = _metadata(body.get("metadata"))
        given = body.get("items") or []
        if len(given) > MAX_ITEMS_PER_REQUEST:
            raise InvalidRequestError(
                f"items holds at most {MAX_ITEMS_PER_REQUEST} items; add more with "
                "POST /v1/conversations/{id}/items.",
                param="items",
            )
        new_items = normalized_items(given, "items")
        record = ConversationRecord(
            "conv_" + secrets.token_hex(24), account.org.id, utcnow(), metadata
        )
        stored = self._stored(account, new_items)

        def write(connection) -> None:
            rows.add_conversation(connection, record)
            rows.add_items(connection, self.keyring, record, stored)

        await self.db.write(write)
        return conversation_object(record)

    def _stored(self, account: Account, new_items: list[dict]) -> list[tuple[str, str]]:
        privacy = RequestPrivacy(account.policy)
        return [(item["id"], privacy.stored(item)) for item in new_items]

    async def get(self, account: Account, conversation_id: str) -> ConversationRecord:
        record = await self.db.read(rows.find_conversation, account.org.id, conversation_id)
        if record is None:
            raise NotFoundError(
                f"Conversation with id '{conversation_id}' not found.", param="conversation_id"
            )
        return record

    async def retrieve(self, account: Account, conversation_id: str) -> dict[str, Any]:
        return conversation_object(await self.get(account, conversation_id))

    async def update(self, account: Account, conversation_id: str, body: dict) -> dict:
        record = await self.get(account, conversation_id)
        metadata = _metadata(body.get("metadata"))
        await self.db.write(rows.set_metadata, record.id, metadata)
        return conversation_object(ConversationRecord(record.id, record.org_id,
                                                      record.created_at, metadata))  # fmt: skip

    async def delete(self, account: Account, conversation_id: str) -> dict[str, Any]:
        record = await self.get(account, conversation_id)
        await self.db.write(rows.delete_conversation, record.org_id, record.id)
        return {"id": record.id, "object": "conversation.deleted", "deleted": True}

    async def add_items(self, account: Account, conversation_id: str, body: dict) -> dict:
        record = await self.get(account, conversation_id)
        given = body.get("items")
        if not isinstance(given, list) or not 1 <= len(given) <= MAX_ITEMS_PER_REQUEST:
            raise InvalidRequestError(
                f"items must be a list of 1 to {MAX_ITEMS_PER_REQUEST} items.", param="items"
            )
        new_items = normalized_items(given, "items")
        await self.append(account, record, new_items)
        return cursor_page(new_items, False)

    async def append(
        self, account: Account, record: ConversationRecord, new_items: list[dict]
    ) -> None:
        await self.db.write(rows.add_items, self.keyring, record, self._stored(account, new_items))

    async def history(self, account: Account, record: ConversationRecord) -> list[dict]:
        """The conversation's newest `MAX_HISTORY` items, oldest first (as kept: redacted
        if the policy says)."""
        found = await self.db.read(
            lambda c: rows.read_items(c, self.keyring, record.id, limit=MAX_HISTORY,
                                      newest_first=True)
        )  # fmt: skip
        return [stored.item for stored in reversed(found)]

    async def page_items(
        self,
        account: Account,
        conversation_id: str,
        *,
        after: str | None = None,
        limit: int = 20,
        order: Literal["asc", "desc"] = "desc",
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LIST:
            raise InvalidRequestError(f"limit must be 1 to {MAX_LIST}.", param="limit")
        record = await self.get(account, conversation_id)
        after_seq = None
        if after is not None:
            mark = await self._item(record, after)
            after_seq = mark.seq
        found = await self.db.read(
            lambda c: rows.read_items(c, self.keyring, record.id, after_seq=after_seq,
                                      limit=limit + 1, newest_first=order == "desc")
        )  # fmt: skip
        return cursor_page([s.item for s in found[:limit]], len(found) > limit)

    async def _item(self, record: ConversationRecord, item_id: str) -> StoredItem:
        found = await self.db.read(rows.find_item, self.keyring, record.id, item_id)
        if found is None:
            raise NotFoundError(f"Item with id '{item_id}' not found.", param="item_id")
        return found

    async def retrieve_item(self, account: Account, conversation_id: str, item_id: str) -> dict:
        record = await self.get(account, conversation_id)
        return (await self._item(record, item_id)).item

    async def delete_item(self, account: Account, conversation_id: str, item_id: str) -> dict:
        record = await self.get(account, conversation_id)
        await self._item(record, item_id)
        await self.db.write(rows.delete_item, record.id, item_id)
        return conversation_object(record)


def _metadata(metadata: Any) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InvalidRequestError("metadata must be an object of strings.", param="metadata")
    try:
        check_pairs(metadata, (str,), "metadata")
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param="metadata") from None
    return metadata
