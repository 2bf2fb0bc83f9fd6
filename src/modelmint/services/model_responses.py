"""`/v1/responses` (OpenAI's Responses API, the subset for text): create, streamed or
whole; retrieve, delete and the input items of a stored response.

A turn's messages are the instructions, the turns before it (a stored previous response's
context, or a conversation's items) and the new input. Without tools the chat model
answers on the metered path (the llama.cpp prompt cache reuses the earlier turns, which
render the same). With the `file_search` tool the answer is quoted from the vector
stores as `/v1/ask` quotes it, with a `file_search_call` item before the message and
`file_citation` annotations on its text. A stored response keeps its context encrypted
(redacted as the org's policy asks) for `previous_response_id`; a conversation gets the
new input and the answer appended.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from modelmint.core.errors import NotFoundError
from modelmint.core.types import Usage
from modelmint.privacy import conversation_store as rows
from modelmint.privacy.conversation_store import ConversationRecord
from modelmint.services.ask import Answered, Ask
from modelmint.services.chat import open_chat
from modelmint.services.context import RequestContext
from modelmint.services.conversations import (
    MAX_HISTORY,
    Conversations,
    item_text,
    message_item,
    normalized_items,
)
from modelmint.services.knowledge_search import search_options
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.personalization import defaults_for, system_prompt
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.response_events import Events, file_search_events
from modelmint.services.response_schemas import FileSearchTool, ResponseCreate
from modelmint.services.schemas import ChatCompletionRequest
from modelmint.services.vector_stores import cursor_page
from modelmint.tenancy.directory import Account
from modelmint.tenancy.personalization import Personalization


@dataclass
class Turn:
    """One response being made: what it answers and what it has produced."""

    id: str
    body: ResponseCreate
    context: list[dict[str, Any]]  # the earlier turns' items, then the new input
    new_items: list[dict[str, Any]]
    conversation: ConversationRecord | None
    wanted: Personalization  # the org's or end user's defaults
    created_at: float = field(default_factory=time.time)
    output: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = Usage()
    model: str = ""
    incomplete: bool = False


class Responses:
    def __init__(
        self, models: Models, metering: Metering, conversations: Conversations, ask: Ask
    ) -> None:
        self.models = models
        self.metering = metering
        self.conversations = conversations
        self.ask = ask
        self.db = conversations.db
        self.keyring = conversations.keyring

    # create -------------------------------------------------------------------------
    async def create(self, context: RequestContext, body: ResponseCreate) -> dict[str, Any]:
        turn = await self._turn(context, body)
        tool = self._tool(body)
        if tool is not None:
            answered = await self._search(context, turn, tool)
            turn.output = [
                _file_search_item(turn, tool, answered),
                _answer_item(answered),
            ]
        else:
            run = await open_chat(self.models, self.metering, context, self._chat(turn))
            chat = await run.respond()
            choice = chat["choices"][0]
            turn.incomplete = choice["finish_reason"] == "length"
            turn.output = [message_item("assistant", choice["message"]["content"] or "")]
            turn.usage, turn.model = run.usage, run.spec.name
        return await self._finish(context, turn)

    async def stream(
        self, context: RequestContext, body: ResponseCreate
    ) -> AsyncIterator[dict[str, Any]]:
        """The Responses event stream: created, in_progress, the output items with their
        text deltas, completed."""
        turn = await self._turn(context, body)
        tool = self._tool(body)
        events = Events()
        yield events.next("response.created", response=response_object(turn, "in_progress"))
        yield events.next("response.in_progress", response=response_object(turn, "in_progress"))
        if tool is not None:
            answered = await self._search(context, turn, tool)
            searched = _file_search_item(turn, tool, answered)
            for event in file_search_events(events, searched, 0):
                yield event
            turn.output.append(searched)
            message = _answer_item(answered)
            async for event in events.message(message, 1, _pieces(item_text(message))):
                yield event
            turn.output.append(message)
        else:
            run = await open_chat(self.models, self.metering, context, self._chat(turn, True))
            turn.model = run.spec.name
            message = message_item("assistant", "")
            async for event in events.message(message, 0, _deltas(run, turn)):
                yield event
            turn.output.append(message)
            turn.usage = run.usage
        done = await self._finish(context, turn)
        kind = "response.incomplete" if turn.incomplete else "response.completed"
        yield events.next(kind, response=done)

    def _tool(self, body: ResponseCreate) -> FileSearchTool | None:
        if not body.tools or body.tool_choice == "none":
            return None
        return body.tools[0]

    async def _turn(self, context: RequestContext, body: ResponseCreate) -> Turn:
        account = context.account
        earlier: list[dict[str, Any]] = []
        conversation = None
        if body.previous_response_id:
            stored = await self._stored(account, body.previous_response_id)
            earlier = stored["context"][-MAX_HISTORY:]
        elif body.conversation_id():
            conversation = await self.conversations.get(account, body.conversation_id())
            earlier = await self.conversations.history(account, conversation)
        new_items = normalized_items(body.input, "input")
        turn_id = "resp_" + secrets.token_hex(24)
        wanted = await defaults_for(self.db, account, body.end_user())
        return Turn(turn_id, body, earlier + new_items, new_items, conversation, wanted,
                    model=body.model)  # fmt: skip

    def _chat(self, turn: Turn, stream: bool = False) -> ChatCompletionRequest:
        body = turn.body
        instructions = body.instructions or system_prompt(turn.wanted, None)
        messages = [{"role": "system", "content": instructions}] if instructions else []
        messages += [
            {"role": "system" if i["role"] == "developer" else i["role"], "content": item_text(i)}
            for i in turn.context
        ]
        return ChatCompletionRequest.model_validate(
            {
                "model": body.model,
                "messages": messages,
                "max_tokens": body.max_output_tokens,
                "temperature": body.temperature,
                "top_p": body.top_p,
                "user": body.end_user(),
                "stream": stream,
            }
        )

    async def _search(self, context: RequestContext, turn: Turn, tool: FileSearchTool) -> Answered:
        question = next(
            (item_text(i) for i in reversed(turn.new_items) if i["role"] == "user"),
            item_text(turn.new_items[-1]),
        )
        stores = await self.ask.search.usable_stores(
            context, tool.vector_store_ids, "tools[0].vector_store_ids"
        )
        ranking = tool.ranking_options
        options = search_options(
            question,
            tool.max_num_results,
            tool.filters,
            ranking.score_threshold if ranking else 0.0,
            ranking.hybrid_search if ranking else None,
        )
        answered = await self.ask.from_stores(
            context, stores, question, options, turn.wanted.language
        )
        turn.usage, turn.model = answered.usage, stores[0].embedding_model
        return answered

    async def _finish(self, context: RequestContext, turn: Turn) -> dict[str, Any]:
        body = turn.body
        done = response_object(turn, "incomplete" if turn.incomplete else "completed")
        account = context.account
        if body.store:
            privacy = RequestPrivacy(account.policy)
            kept = {"response": done, "context": turn.context + turn.output[-1:],
                    "input": turn.new_items}  # fmt: skip
            await self.db.write(
                rows.store_response, self.keyring, account.org.id, turn.id, privacy.stored(kept)
            )
        if turn.conversation is not None:
            await self.conversations.append(
                account, turn.conversation, turn.new_items + turn.output[-1:]
            )
        return done

    # stored responses -----------------------------------------------------------------
    async def _stored(self, account: Account, response_id: str) -> dict[str, Any]:
        found = await self.db.read(rows.read_response, self.keyring, account.org.id, response_id)
        if found is None:
            raise NotFoundError(f"Response with id '{response_id}' not found.", param="response_id")
        return found

    async def retrieve(self, account: Account, response_id: str) -> dict[str, Any]:
        return (await self._stored(account, response_id))["response"]

    async def delete(self, account: Account, response_id: str) -> dict[str, Any]:
        await self._stored(account, response_id)
        await self.db.write(rows.delete_response, account.org.id, response_id)
        return {"id": response_id, "object": "response", "deleted": True}

    async def input_items(self, account: Account, response_id: str) -> dict[str, Any]:
        stored = await self._stored(account, response_id)
        return cursor_page(list(reversed(stored["input"])), False)


def response_object(turn: Turn, status: str) -> dict[str, Any]:
    body = turn.body
    usage = turn.usage
    return {
        "id": turn.id,
        "object": "response",
        "created_at": int(turn.created_at),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "model": turn.model or body.model,
        "output": turn.output if status != "in_progress" else [],
        "parallel_tool_calls": body.parallel_tool_calls,
        "previous_response_id": body.previous_response_id,
        "conversation": {"id": turn.conversation.id} if turn.conversation else None,
        "store": body.store,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "text": {"format": {"type": "text"}},
        "tool_choice": body.tool_choice,
        "tools": [tool.model_dump() for tool in body.tools or []],
        "truncation": body.truncation,
        "usage": None if status == "in_progress" else response_usage(usage),
        "user": body.user,
        "safety_identifier": body.safety_identifier,
        "metadata": body.metadata or {},
    }


def response_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def _file_search_item(turn: Turn, tool: FileSearchTool, answered: Answered) -> dict[str, Any]:
    question = item_text(turn.new_items[-1])
    include = "file_search_call.results" in (turn.body.include or [])
    results = [
        {
            "file_id": hit.chunk.file_id,
            "filename": hit.chunk.filename,
            "score": round(hit.score, 6),
            "text": hit.chunk.text,
            "attributes": dict(hit.chunk.attributes),
        }
        for hit in answered.hits
    ]
    return {
        "id": "fs_" + secrets.token_hex(24),
        "type": "file_search_call",
        "status": "completed",
        "queries": [question],
        "results": results if include else None,
    }


def _answer_item(answered: Answered) -> dict[str, Any]:
    """The message quoting the documents, with a file citation at its end for each
    chunk it quotes (OpenAI's `index`: where in the text the citation applies)."""
    text = answered.answer
    annotations = [
        {
            "type": "file_citation",
            "file_id": c["file_id"],
            "filename": c["filename"],
            "index": len(text),
        }  # fmt: skip
        for c in answered.citations[: answered.relied]
    ]
    return message_item("assistant", text, annotations)


async def _deltas(run: Any, turn: Turn) -> AsyncIterator[str]:
    async for chunk in run.stream():
        for choice in chunk["choices"]:
            if choice.get("finish_reason") == "length":
                turn.incomplete = True
            content = choice["delta"].get("content")
            if content:
                yield content


async def _pieces(text: str, size: int = 16) -> AsyncIterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]
